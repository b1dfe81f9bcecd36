package keyboard

import (
	"context"
	"strconv"
	"strings"
)

// regReader is the part of the registry the Windows reader needs. The live
// registry (winreg.Live) implements it on Windows; *regfile.Hive implements
// it on every OS so that the logic below is tested on recorded .reg exports.
// Paths are full, with an abbreviated root: `HKU\S-1-5-21-...\...`.
type regReader interface {
	String(path, name string) (string, bool)
	DWord(path, name string) (uint32, bool)
	Subkeys(path string) []string
}

// maxPreload bounds the Preload values read ("1", "2", ...).
const maxPreload = 64

// registryLayouts reads the keyboard settings of every user hive loaded
// under HKU, skipping the service accounts (S-1-5-18, -19, -20), .DEFAULT
// (the logon screen) and the _Classes hives:
//
//   - HKU\<sid>\Keyboard Layout\Preload: values "1", "2", ... hold the KLIDs
//     of the user's layouts in order ("00000409", "E0010412" for a legacy
//     IME). Keyboard Layout\Substitutes maps a KLID to the layout really
//     loaded ("00000409" → "00020409", US-International); ID is the
//     substitute, Language comes from the LANGID in the low word of the
//     Preload KLID. A KLID starting with E is an IME.
//   - HKU\<sid>\Software\Microsoft\CTF\TIP\{clsid}\LanguageProfile\
//     0x<LANGID>\{profile}: text services (Microsoft IME, third-party
//     IMEs) with Enable=1 are input methods with ID "{clsid}\{profile}".
//
// Cost: two subkey listings and about ten value reads per user, plus three
// listings per text service.
func registryLayouts(ctx context.Context, r regReader) ([]Layout, error) {
	var ls []Layout
	for _, sid := range r.Subkeys("HKU") {
		if err := ctx.Err(); err != nil {
			return ls, err
		}
		switch s := strings.ToUpper(sid); {
		case s == ".DEFAULT", s == "S-1-5-18", s == "S-1-5-19", s == "S-1-5-20", strings.HasSuffix(s, "_CLASSES"):
			continue
		}
		base := `HKU\` + sid + `\Keyboard Layout`
		for i := 1; i <= maxPreload; i++ {
			klid, ok := r.String(base+`\Preload`, strconv.Itoa(i))
			if !ok {
				break
			}
			if klid = strings.TrimSpace(klid); !validKLID(klid) {
				continue
			}
			l := Layout{ID: klid, Language: langidLanguage(klid), Kind: KindLayout, Source: base + `\Preload`, User: sid}
			if sub, ok := r.String(base+`\Substitutes`, klid); ok && validKLID(strings.TrimSpace(sub)) {
				l.ID = strings.TrimSpace(sub)
			}
			if strings.HasPrefix(strings.ToUpper(klid), "E") {
				l.Kind = KindIME
			}
			ls = add(ls, l)
		}
		tip := `HKU\` + sid + `\Software\Microsoft\CTF\TIP`
		for _, clsid := range r.Subkeys(tip) {
			lp := tip + `\` + clsid + `\LanguageProfile`
			for _, langid := range r.Subkeys(lp) {
				for _, profile := range r.Subkeys(lp + `\` + langid) {
					key := lp + `\` + langid + `\` + profile
					if on, ok := r.DWord(key, "Enable"); !ok || on == 0 {
						continue
					}
					ls = add(ls, Layout{ID: clsid + `\` + profile, Language: langidLanguage(langid), Kind: KindIME, Source: key, User: sid})
				}
			}
		}
	}
	return ls, nil
}

// validKLID accepts eight hex digits.
func validKLID(s string) bool {
	if len(s) != 8 {
		return false
	}
	_, err := strconv.ParseUint(s, 16, 32)
	return err == nil
}
