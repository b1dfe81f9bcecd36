package keyboard

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/platform/regfile"
	"howett.net/plist"
)

func TestReadTreeDebian(t *testing.T) {
	got, err := List(context.Background(), "testdata/debian")
	if err != nil {
		t.Fatal(err)
	}
	const fcitx5 = "/home/alice/.config/fcitx5/profile"
	want := []Layout{
		{ID: "us", Language: "en-US", Kind: KindLayout, Source: "/etc/default/keyboard"},
		{ID: "kr(kr104)", Language: "ko-KR", Kind: KindLayout, Source: "/etc/default/keyboard"},
		{ID: "us", Language: "en-US", Kind: KindLayout, Source: fcitx5, User: "alice"},
		{ID: "hangul", Language: "ko-KR", Kind: KindIME, Source: fcitx5, User: "alice"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestReadTreeFedora(t *testing.T) {
	got, err := List(context.Background(), "testdata/fedora")
	if err != nil {
		t.Fatal(err)
	}
	const vc, xorg, fcitx = "/etc/vconsole.conf", "/etc/X11/xorg.conf.d/00-keyboard.conf", "/home/bob/.config/fcitx/profile"
	want := []Layout{
		{ID: "de-nodeadkeys", Language: "de-DE", Kind: KindLayout, Source: vc},
		{ID: "de(nodeadkeys)", Language: "de-DE", Kind: KindLayout, Source: vc},
		{ID: "ru(phonetic)", Language: "ru-RU", Kind: KindLayout, Source: vc},
		{ID: "us", Language: "en-US", Kind: KindLayout, Source: xorg},
		{ID: "kr(kr104)", Language: "ko-KR", Kind: KindLayout, Source: xorg},
		{ID: "us", Language: "en-US", Kind: KindLayout, Source: fcitx, User: "bob"},
		{ID: "mozc", Language: "ja-JP", Kind: KindIME, Source: fcitx, User: "bob"},
		{ID: "de(nodeadkeys)", Language: "de-DE", Kind: KindLayout, Source: fcitx, User: "bob"},
		{ID: "chewing", Language: "zh-TW", Kind: KindIME, Source: SourceInstalled},
		{ID: "table:wubi-jidian86", Language: "zh-CN", Kind: KindIME, Source: SourceInstalled},
		{ID: "hangul", Language: "ko-KR", Kind: KindIME, Source: SourceInstalled},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%+v\nwant\n%+v", got, want)
	}
}

// writeHIToolbox writes a user's HIToolbox.plist in format under root.
func writeHIToolbox(t *testing.T, root, user string, v any, format int) {
	t.Helper()
	dir := filepath.Join(root, "Users", user, "Library", "Preferences")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := plist.Marshal(v, format)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "com.apple.HIToolbox.plist"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadTreeMac(t *testing.T) {
	root := t.TempDir()
	sources := map[string]any{
		"AppleCurrentKeyboardLayoutInputSourceID": "com.apple.keylayout.US",
		"AppleEnabledInputSources": []map[string]any{
			{"InputSourceKind": "Keyboard Layout", "KeyboardLayout ID": 0, "KeyboardLayout Name": "U.S."},
			{"InputSourceKind": "Keyboard Input Method", "Bundle ID": "com.apple.inputmethod.Korean"},
			{"InputSourceKind": "Input Mode", "Bundle ID": "com.apple.inputmethod.Korean", "Input Mode": "com.apple.inputmethod.Korean.2SetKorean"},
			{"InputSourceKind": "Non Keyboard Input Method", "Bundle ID": "com.apple.CharacterPaletteIM"},
		},
	}
	writeHIToolbox(t, root, "kim", sources, plist.BinaryFormat)
	writeHIToolbox(t, root, "anna", map[string]any{"AppleEnabledInputSources": []map[string]any{
		{"InputSourceKind": "Keyboard Layout", "KeyboardLayout ID": 19458, "KeyboardLayout Name": "Russian - PC"},
	}}, plist.XMLFormat)
	writeHIToolbox(t, root, "Shared", sources, plist.XMLFormat)
	if err := os.MkdirAll(filepath.Join(root, "Users", "broken", "Library", "Preferences"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "Users", "broken", "Library", "Preferences", "com.apple.HIToolbox.plist"), []byte("bplist00\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := List(context.Background(), root)
	if err == nil || !strings.Contains(err.Error(), "/Users/broken/") {
		t.Errorf("List() error = %v, want one about the broken plist", err)
	}
	const p = "/Library/Preferences/com.apple.HIToolbox.plist"
	want := []Layout{
		{ID: "com.apple.keylayout.Russian-PC", Language: "ru-RU", Kind: KindLayout, Source: "/Users/anna" + p, User: "anna"},
		{ID: "com.apple.keylayout.US", Language: "en-US", Kind: KindLayout, Source: "/Users/kim" + p, User: "kim"},
		{ID: "com.apple.inputmethod.Korean.2SetKorean", Language: "ko-KR", Kind: KindIME, Source: "/Users/kim" + p, User: "kim"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestRegistryLayouts(t *testing.T) {
	b, err := os.ReadFile("testdata/keyboard.reg")
	if err != nil {
		t.Fatal(err)
	}
	h, err := regfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := registryLayouts(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	const sid = "S-1-5-21-3623811015-3361044348-30300820-1013"
	const preload = `HKU\` + sid + `\Keyboard Layout\Preload`
	const korean = `{A028AE76-01B1-46C2-99C4-ACD9858AE02F}`
	want := []Layout{
		{ID: "00000409", Language: "en-US", Kind: KindLayout, Source: preload, User: sid},
		{ID: "00000412", Language: "ko-KR", Kind: KindLayout, Source: preload, User: sid},
		{ID: "00020419", Language: "ru-RU", Kind: KindLayout, Source: preload, User: sid},
		{ID: korean + `\{B5FE1F02-D5F2-4445-9C03-C568F23C99A1}`, Language: "ko-KR", Kind: KindIME,
			Source: `HKU\` + sid + `\Software\Microsoft\CTF\TIP\` + korean + `\LanguageProfile\0x00000412\{B5FE1F02-D5F2-4445-9C03-C568F23C99A1}`, User: sid},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("registryLayouts() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLanguages(t *testing.T) {
	for _, tt := range []struct {
		fn   func(string) string
		in   string
		want string
	}{
		{xkbLanguage, "de(nodeadkeys)", "de-DE"},
		{xkbLanguage, "xx", ""},
		{keymapLanguage, "jp106", "ja-JP"},
		{keymapLanguage, "uk", "en-GB"},
		{imeLanguage, "m17n:ru:kbd", "ru-RU"},
		{imeLanguage, "m17n_hi_itrans", "hi-IN"},
		{imeLanguage, "anthy", "ja-JP"},
		{imeLanguage, "libpinyin", "zh-CN"},
		{imeLanguage, "rime", "zh-CN"},
		{imeLanguage, "unikey", "vi-VN"},
		{imeLanguage, "bamboo", "vi-VN"},
		{imeLanguage, "hangul:2", "ko-KR"},
		{langidLanguage, "E0010412", "ko-KR"},
		{langidLanguage, "0x00000804", "zh-CN"},
		{langidLanguage, "00000c0a", "es-ES"},
		{langidLanguage, "12", ""},
		{macLanguage, "com.apple.inputmethod.SCIM.ITABC", "zh-CN"},
		{macLanguage, "com.apple.inputmethod.Kotoeri.RomajiTyping.Japanese", "ja-JP"},
		{macLanguage, "British", "en-GB"},
		{isoLanguage, "zh_TW", "zh-TW"},
	} {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
	n := 0
	for k := range tables() {
		if strings.HasPrefix(k, "langid\x00") {
			n++
		}
	}
	if n < 60 {
		t.Errorf("%d LANGIDs in the table, want at least 60", n)
	}
}

func TestListRejectsMissingRoot(t *testing.T) {
	if _, err := List(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("List(missing root) returned no error")
	}
	got, err := List(context.Background(), t.TempDir())
	if err != nil || len(got) != 0 {
		t.Errorf("List(empty tree) = %v, %v", got, err)
	}
}

func TestListLive(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		t.Skip("no live reader")
	}
	ls, err := List(context.Background(), "")
	t.Logf("%d layouts, err %v", len(ls), err)
	for _, l := range ls {
		if l.ID == "" || clean(l.ID) != l.ID || (l.Kind != KindLayout && l.Kind != KindIME) {
			t.Errorf("bad layout %+v", l)
		}
	}
}

// checkLayouts fails on a layout a parser must never return.
func checkLayouts(t *testing.T, ls []Layout) {
	t.Helper()
	if len(ls) > 2*maxList {
		t.Fatalf("%d layouts", len(ls))
	}
	for _, l := range ls {
		if l.ID == "" || clean(l.ID) != l.ID || len(l.ID) > maxField || (l.Kind != KindLayout && l.Kind != KindIME) {
			t.Fatalf("bad layout %+v", l)
		}
	}
}

func FuzzParseKeyboardDefault(f *testing.F) {
	f.Add([]byte("XKBLAYOUT=\"us,kr\"\nXKBVARIANT=\",kr104\"\n"))
	f.Add([]byte("KEYMAP=de-latin1\nXKBLAYOUT=de,ru\nXKBVARIANT=nodeadkeys,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLayouts(t, parseKeyboardDefault(b, "/etc/default/keyboard"))
		checkLayouts(t, parseVconsole(b, "/etc/vconsole.conf"))
	})
}

func FuzzParseFcitxProfile(f *testing.F) {
	for _, p := range []string{"testdata/debian/home/alice/.config/fcitx5/profile", "testdata/fedora/home/bob/.config/fcitx/profile"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLayouts(t, parseFcitx5Profile(b, "p", "u"))
		checkLayouts(t, parseFcitxProfile(b, "p", "u"))
	})
}

func FuzzParseXorgConf(f *testing.F) {
	b, err := os.ReadFile("testdata/fedora/etc/X11/xorg.conf.d/00-keyboard.conf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("Option \"XkbLayout\" \"us,kr\nOption XkbVariant"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLayouts(t, parseXorgConf(b, "/etc/X11/xorg.conf.d/x.conf"))
	})
}
