package locale

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/farmwatch/farmwatch/platform/envfile"
)

// readTree reads the system locale files under root. getenv, when not nil,
// is the live environment used if the files set nothing. It is file parsing
// only and builds on every OS.
func readTree(root string, getenv func(string) string) (Locale, error) {
	if root == "" {
		root = "/"
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); err != nil {
		return Locale{}, fmt.Errorf("read %s: %w", filepath.Join(root, "etc"), err)
	}
	var errs []error
	for _, rel := range []string{"/etc/locale.conf", "/etc/default/locale"} {
		vars, err := envfile.Read(filepath.Join(root, rel))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if l := fromVars(vars, rel); l.Locale != "" {
			return l, nil
		}
	}
	if getenv != nil {
		vars := map[string]string{"LC_ALL": getenv("LC_ALL"), "LANG": getenv("LANG"), "LANGUAGE": getenv("LANGUAGE")}
		if l := fromVars(vars, "environment"); l.Locale != "" {
			return l, errors.Join(errs...)
		}
	}
	return Locale{}, errors.Join(errs...)
}

// fromVars applies POSIX precedence (LC_ALL over LANG) and GNU LANGUAGE.
func fromVars(vars map[string]string, source string) Locale {
	l := Locale{Locale: clean(vars["LC_ALL"]), Source: source}
	if l.Locale == "" {
		l.Locale = clean(vars["LANG"])
	}
	if l.Locale == "" {
		return Locale{}
	}
	for lang := range strings.SplitSeq(vars["LANGUAGE"], ":") {
		if lang = clean(lang); lang != "" {
			l.Languages = append(l.Languages, lang)
		}
	}
	if len(l.Languages) == 0 {
		if lang := language(l.Locale); lang != "" {
			l.Languages = []string{lang}
		}
	}
	return l
}

// language strips the codeset and modifier: "de_DE.UTF-8@euro" → "de_DE".
// The C and POSIX locales name no language.
func language(locale string) string {
	lang, _, _ := strings.Cut(locale, ".")
	lang, _, _ = strings.Cut(lang, "@")
	if lang == "C" || lang == "POSIX" {
		return ""
	}
	return lang
}

// clean bounds and checks a locale name from an untrusted file: letters,
// digits and _ . @ - only, at most 64 bytes; anything else is dropped.
func clean(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == '_', r == '.', r == '@', r == '-':
		default:
			return ""
		}
	}
	return s
}
