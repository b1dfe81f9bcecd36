package keyboard

import (
	"bytes"
	"encoding/xml"
	"strings"

	"github.com/farmwatch/farmwatch/platform/envfile"
)

// maxList bounds the entries taken from one comma-separated list.
const maxList = 64

// xkbLayouts pairs the comma-separated XKB layouts and variants
// ("us,ru" and ",phonetic") into layouts: "us", "ru(phonetic)".
func xkbLayouts(layouts, variants, source, user string) []Layout {
	var ls []Layout
	vs := strings.Split(variants, ",")
	for i, name := range strings.Split(layouts, ",") {
		if i == maxList {
			break
		}
		if name = strings.TrimSpace(name); !validXKB(name) {
			continue
		}
		id := name
		if i < len(vs) {
			if v := strings.TrimSpace(vs[i]); v != "" && validXKB(v) {
				id += "(" + v + ")"
			}
		}
		ls = append(ls, Layout{ID: id, Language: xkbLanguage(id), Kind: KindLayout, Source: source, User: user})
	}
	return ls
}

// validXKB accepts an XKB layout or variant name: letters, digits, _ - +
// and at most 64 bytes.
func validXKB(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_', r == '-', r == '+':
		default:
			return false
		}
	}
	return true
}

// parseKeyboardDefault reads /etc/default/keyboard (Debian's
// keyboard-configuration): XKBLAYOUT="us,kr" with XKBVARIANT.
func parseKeyboardDefault(b []byte, source string) []Layout {
	if len(b) == 0 {
		return nil
	}
	vars := envfile.Parse(b)
	return xkbLayouts(vars["XKBLAYOUT"], vars["XKBVARIANT"], source, "")
}

// parseVconsole reads systemd's /etc/vconsole.conf: the console KEYMAP and
// the X11 layout localectl writes beside it (XKBLAYOUT, XKBVARIANT).
func parseVconsole(b []byte, source string) []Layout {
	if len(b) == 0 {
		return nil
	}
	vars := envfile.Parse(b)
	var ls []Layout
	if km := strings.TrimSpace(vars["KEYMAP"]); validXKB(km) {
		ls = append(ls, Layout{ID: km, Language: keymapLanguage(km), Kind: KindLayout, Source: source})
	}
	return append(ls, xkbLayouts(vars["XKBLAYOUT"], vars["XKBVARIANT"], source, "")...)
}

// parseXorgConf reads an xorg.conf(5) file (/etc/X11/xorg.conf.d/
// 00-keyboard.conf, as localectl writes it): the Option "XkbLayout" and
// "XkbVariant" of each Section, paired per section.
func parseXorgConf(b []byte, source string) []Layout {
	var ls []Layout
	var layout, variant string
	flush := func() {
		if layout != "" && len(ls) < maxList {
			ls = append(ls, xkbLayouts(layout, variant, source, "")...)
		}
		layout, variant = "", ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := xorgFields(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "section", "endsection":
			flush()
		case "option":
			if len(f) < 3 {
				continue
			}
			switch strings.ToLower(f[1]) {
			case "xkblayout":
				layout = f[2]
			case "xkbvariant":
				variant = f[2]
			}
		}
	}
	flush()
	return ls
}

// xorgFields splits an xorg.conf line into words and quoted strings,
// stopping at a # comment.
func xorgFields(line string) []string {
	var f []string
	for {
		line = strings.TrimLeft(line, " \t\r")
		if line == "" || line[0] == '#' {
			return f
		}
		if line[0] == '"' {
			end := strings.IndexByte(line[1:], '"')
			if end < 0 {
				return append(f, line[1:])
			}
			f = append(f, line[1:1+end])
			line = line[2+end:]
			continue
		}
		end := strings.IndexAny(line, " \t\r\"#")
		if end < 0 {
			return append(f, line)
		}
		f = append(f, line[:end])
		line = line[end:]
	}
}

// imeEntry makes the Layout of an fcitx input method name: the keyboard
// pseudo-engines ("keyboard-us", "fcitx-keyboard-de-nodeadkeys") are XKB
// layouts, anything else ("hangul", "mozc", "pinyin") is an input method.
func imeEntry(name, source, user string) (Layout, bool) {
	name = strings.TrimSpace(name)
	if clean(name) != name || name == "" {
		return Layout{}, false
	}
	kb := strings.TrimPrefix(name, "fcitx-")
	if rest, ok := strings.CutPrefix(kb, "keyboard-"); ok {
		layout, variant, _ := strings.Cut(rest, "-")
		ls := xkbLayouts(layout, variant, source, user)
		if len(ls) == 0 {
			return Layout{}, false
		}
		return ls[0], true
	}
	return Layout{ID: name, Language: imeLanguage(name), Kind: KindIME, Source: source, User: user}, true
}

// parseFcitx5Profile reads ~/.config/fcitx5/profile, an ini file whose
// [Groups/N/Items/M] sections name the input methods of each group
// (Name=keyboard-us, Name=hangul).
func parseFcitx5Profile(b []byte, source, user string) []Layout {
	var ls []Layout
	inItem := false
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			sec := strings.Split(line[1:len(line)-1], "/")
			inItem = len(sec) == 4 && sec[0] == "Groups" && sec[2] == "Items"
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !inItem || !ok || strings.TrimSpace(key) != "Name" {
			continue
		}
		if l, ok := imeEntry(val, source, user); ok && len(ls) < maxList {
			ls = append(ls, l)
		}
	}
	return ls
}

// parseFcitxProfile reads ~/.config/fcitx/profile (fcitx 4):
// EnabledIMList=fcitx-keyboard-us:True,hangul:True,pinyin:False; only the
// entries set True are enabled.
func parseFcitxProfile(b []byte, source, user string) []Layout {
	var ls []Layout
	for line := range strings.SplitSeq(string(b), "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.TrimSpace(key) != "EnabledIMList" {
			continue
		}
		ls = nil // a later assignment wins
		for item := range strings.SplitSeq(val, ",") {
			name, on, ok := strings.Cut(item, ":")
			if !ok || strings.TrimSpace(on) != "True" {
				continue
			}
			if l, ok := imeEntry(name, source, user); ok && len(ls) < maxList {
				ls = append(ls, l)
			}
		}
	}
	return ls
}

// ibusComponent is the part of an ibus component file
// (/usr/share/ibus/component/hangul.xml) that names its engines.
type ibusComponent struct {
	Engines []struct {
		Name     string `xml:"name"`
		Language string `xml:"language"`
	} `xml:"engines>engine"`
}

// parseIbusComponent lists the engines an ibus component installs, except
// the generic xkb:* ones (every layout, from ibus's simple.xml).
func parseIbusComponent(b []byte) []Layout {
	if len(b) == 0 {
		return nil
	}
	var c ibusComponent
	if err := xml.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
		return nil
	}
	var ls []Layout
	for _, e := range c.Engines {
		name := strings.TrimSpace(e.Name)
		if clean(name) != name || name == "" || strings.HasPrefix(name, "xkb:") {
			continue
		}
		lang := imeLanguage(name)
		if lang == "" {
			lang = isoLanguage(strings.TrimSpace(e.Language))
		}
		if ls = append(ls, Layout{ID: name, Language: lang, Kind: KindIME, Source: SourceInstalled}); len(ls) == maxList {
			break
		}
	}
	return ls
}
