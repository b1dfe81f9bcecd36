package keyboard

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed languages.txt
var languagesTxt string

// tables maps "table\x00key" to a BCP 47 tag; keys are compared in lower
// case.
var tables = sync.OnceValue(func() map[string]string {
	m := make(map[string]string)
	for line := range strings.SplitSeq(languagesTxt, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		m[f[0]+"\x00"+strings.ToLower(strings.Join(f[1:len(f)-1], " "))] = f[len(f)-1]
	}
	return m
})

func lookup(table, key string) string {
	return tables()[table+"\x00"+strings.ToLower(key)]
}

// xkbLanguage maps an XKB layout ("us", "de(nodeadkeys)") to its language.
func xkbLanguage(id string) string {
	layout, _, _ := strings.Cut(id, "(")
	return lookup("xkb", layout)
}

// keymapLanguage maps a console keymap ("de-latin1-nodeadkeys", "jp106") to
// its language: its first dash-separated word without trailing digits.
func keymapLanguage(name string) string {
	w, _, _ := strings.Cut(name, "-")
	w = strings.TrimRight(w, "0123456789")
	if l := lookup("kmap", w); l != "" {
		return l
	}
	return lookup("xkb", w)
}

// isoLanguage maps an ISO 639 code ("ru", "ko") to its usual tag; a code
// with a territory ("zh_TW", "pt-BR") keeps it.
func isoLanguage(code string) string {
	lang, region, _ := strings.Cut(strings.ReplaceAll(code, "-", "_"), "_")
	if letters(lang, 2, 3) && letters(region, 2, 2) {
		return strings.ToLower(lang) + "-" + strings.ToUpper(region)
	}
	return lookup("iso", lang)
}

// letters reports whether s is min to max ASCII letters.
func letters(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// imeLanguage maps an input method engine name to its language: "hangul",
// "mozc", "pinyin", "m17n:ru:kbd", "m17n_ru_kbd", "table:wubi-jidian86",
// "rime", "libpinyin", "keyboard-ru" (a layout).
func imeLanguage(name string) string {
	n := strings.ToLower(name)
	if l := lookup("ime", n); l != "" {
		return l
	}
	if rest, ok := strings.CutPrefix(n, "m17n"); ok && rest != "" && (rest[0] == ':' || rest[0] == '_') {
		code, _, _ := strings.Cut(strings.ReplaceAll(rest[1:], "_", ":"), ":")
		return isoLanguage(code)
	}
	// ibus engine ids: "table:wubi-jidian86", "libpinyin", "hangul:2".
	for _, sep := range []string{":", "-", "_"} {
		head, _, _ := strings.Cut(n, sep)
		if l := lookup("ime", head); l != "" {
			return l
		}
		if _, tail, ok := strings.Cut(n, sep); ok {
			if l := lookup("ime", tail); l != "" {
				return l
			}
		}
	}
	return ""
}

// langidLanguage maps a KLID or LANGID ("00000412", "E0010412", "0412",
// "0x00000412") to the language of its low word.
func langidLanguage(klid string) string {
	k := strings.TrimPrefix(strings.ToLower(klid), "0x")
	if len(k) < 4 {
		return ""
	}
	return lookup("langid", k[len(k)-4:])
}

// macLanguage maps a macOS layout name, input source or bundle id to its
// language, trying ever shorter dot-separated prefixes of id
// ("com.apple.inputmethod.Korean.2SetKorean", then "…Korean").
func macLanguage(id string) string {
	for id != "" {
		if l := lookup("mac", id); l != "" {
			return l
		}
		i := strings.LastIndexByte(id, '.')
		if i <= 0 {
			return ""
		}
		id = id[:i]
	}
	return ""
}

// KLIDLanguage maps a Windows keyboard layout id or LANGID ("00000412", "E0010412", "0412",
// "0x0412") to its BCP 47 tag, "" when unknown. The collector uses it on RDP clients' layouts.
func KLIDLanguage(klid string) string { return langidLanguage(klid) }
