package regfile

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t testing.TB, file string) *Hive {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestParseUTF16Export(t *testing.T) {
	h := mustParse(t, "testdata/uninstall.reg")
	const any = `HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\AnyDesk`
	const msi = `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\{1F9B6E47-6A9F-4F3D-8C1A-8D5E2B0C9A11}`
	strs := []struct{ path, name, want string }{
		{any, "DisplayName", "AnyDesk"},
		{any, "displayversion", "ad 9.0.4"},
		{any, "InstallLocation", `"C:\Program Files (x86)\AnyDesk"`},
		{any, "UninstallString", `"C:\Program Files (x86)\AnyDesk\AnyDesk.exe" --uninstall`},
		{strings.ToLower(any), "Publisher", "AnyDesk Software GmbH"},
		{msi, "UninstallString", `%SystemRoot%\System32\MsiExec.exe /X{1F9B6E47-6A9F-4F3D-8C1A-8D5E2B0C9A11}`},
		{msi, "", "default value"},
	}
	for _, tt := range strs {
		if got, ok := h.String(tt.path, tt.name); !ok || got != tt.want {
			t.Errorf("String(%s, %q) = %q, %v; want %q", tt.path, tt.name, got, ok, tt.want)
		}
	}
	if got, ok := h.DWord(any, "EstimatedSize"); !ok || got != 0x1400 {
		t.Errorf("DWord(EstimatedSize) = %#x, %v", got, ok)
	}
	if got, ok := h.DWord(msi, "SystemComponent"); !ok || got != 1 {
		t.Errorf("DWord(SystemComponent) = %d, %v", got, ok)
	}
	if _, ok := h.DWord(any, "DisplayName"); ok {
		t.Error("DWord of a string value reported ok")
	}
	if _, ok := h.String(any, "NoModify"); ok {
		t.Error("String of a DWORD value reported ok")
	}
	if got, ok := h.Key(any).Strings("Sources"); !ok || !reflect.DeepEqual(got, []string{"a", "bb"}) {
		t.Errorf("Strings(Sources) = %q, %v", got, ok)
	}
	wantSub := []string{"RustDesk", "TeamViewer", "{1F9B6E47-6A9F-4F3D-8C1A-8D5E2B0C9A11}"}
	if got := h.Subkeys(`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`); !reflect.DeepEqual(got, wantSub) {
		t.Errorf("Subkeys = %q, want %q", got, wantSub)
	}
	wantUsers := []string{"S-1-5-21-3623811015-3361044348-30300820-1001", "S-1-5-21-3623811015-3361044348-30300820-1001_Classes"}
	if got := h.Subkeys("HKU"); !reflect.DeepEqual(got, wantUsers) {
		t.Errorf("Subkeys(HKU) = %q, want %q", got, wantUsers)
	}
	if h.Key(`HKLM\SOFTWARE\Removed`) != nil {
		t.Error("deleted key [-...] was created")
	}
	if h.Key(`HKLM\SOFTWARE\Nope`) != nil || h.Key(`HKLM\SOFTWARE\Nope`).Subkeys() != nil {
		t.Error("absent key found")
	}
}

func TestParseRegedit4ANSI(t *testing.T) {
	h := mustParse(t, "testdata/rdp-default-regedit4.reg")
	const k = `HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp`
	if got, ok := h.DWord(k, "PortNumber"); !ok || got != 3389 {
		t.Errorf("PortNumber = %d, %v", got, ok)
	}
	if got, _ := h.String(k, "Comment"); got != "café" {
		t.Errorf("Comment = %q, want café (Latin-1 decoded)", got)
	}
	// REGEDIT4 writes hex(2) as ANSI bytes, not UTF-16.
	if got, _ := h.String(k, "Path"); got != "%SystemRoot%" {
		t.Errorf("Path = %q", got)
	}
}

func TestParseValues(t *testing.T) {
	const head = "Windows Registry Editor Version 5.00\n\n[HKEY_CURRENT_USER\\Test]\n"
	tests := []struct {
		line, name string
		str        string
		dword      uint32
		isDWord    bool
	}{
		{`"a"="x \"quoted\" \\ back"`, "a", `x "quoted" \ back`, 0, false},
		{`"with \"q\" name"="v"`, `with "q" name`, "v", 0, false},
		{`"d"=dword:DEADBEEF`, "d", "", 0xdeadbeef, true},
		{`"h4"=hex(4):01,02,00,00`, "h4", "", 0x201, true},
		{`"e"=""`, "e", "", 0, false},
		{`@="def"`, "", "def", 0, false},
		{"\"w\"=hex(2):41,00,\\\n  42,00,00,00", "w", "AB", 0, false},
	}
	for _, tt := range tests {
		h, err := Parse([]byte(head + tt.line + "\n"))
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.line, err)
			continue
		}
		if tt.isDWord {
			if got, ok := h.DWord(`HKCU\Test`, tt.name); !ok || got != tt.dword {
				t.Errorf("%q: DWord = %#x, %v", tt.line, got, ok)
			}
			continue
		}
		if got, ok := h.String(`HKCU\Test`, tt.name); !ok || got != tt.str {
			t.Errorf("%q: String = %q, %v; want %q", tt.line, got, ok, tt.str)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := map[string]string{
		"no header":       "[HKEY_LOCAL_MACHINE\\X]\n",
		"empty":           "",
		"bad dword":       "REGEDIT4\n[HKEY_LOCAL_MACHINE\\X]\n\"a\"=dword:xyz\n",
		"value first":     "REGEDIT4\n\"a\"=\"b\"\n",
		"unterminated":    "REGEDIT4\n[HKEY_LOCAL_MACHINE\\X\n",
		"bad hex":         "REGEDIT4\n[HKEY_LOCAL_MACHINE\\X]\n\"a\"=hex:zz\n",
		"trailing junk":   "REGEDIT4\n[HKEY_LOCAL_MACHINE\\X]\n\"a\"=\"b\"c\n",
		"odd utf16":       "\xff\xfeR",
		"unknown type":    "REGEDIT4\n[HKEY_LOCAL_MACHINE\\X]\n\"a\"=qword:1\n",
		"deep key":        "REGEDIT4\n[HKEY_LOCAL_MACHINE" + strings.Repeat("\\a", maxDepth+1) + "]\n",
		"unquoted string": "REGEDIT4\n[HKEY_LOCAL_MACHINE\\X]\n\"a\"=\"b\n",
	}
	for name, in := range tests {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
	if _, err := Parse(make([]byte, MaxSize+1)); err == nil {
		t.Error("Parse accepted a file over MaxSize")
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/uninstall.reg", "testdata/rdp-3390-nla-off.reg", "testdata/rdp-default-regedit4.reg"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("REGEDIT4\n[HKEY_LOCAL_MACHINE\\A\\B]\n\"x\"=hex(7):41,00,00,00,\\\n 00,00\n@=dword:1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			return
		}
		for norm, k := range h.keys {
			if normalize(k.Path) != norm {
				t.Fatalf("key %q stored as %q", k.Path, norm)
			}
			for _, sub := range k.Subkeys() {
				if h.Key(k.Path+"\\"+sub) == nil {
					t.Fatalf("subkey %q of %q missing", sub, k.Path)
				}
			}
			for name := range k.values {
				k.String(name)
				k.DWord(name)
				k.Strings(name)
			}
		}
	})
}
