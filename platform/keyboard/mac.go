package keyboard

import (
	"bytes"
	"fmt"
	"strings"

	"howett.net/plist"
)

// hiToolbox is the part of com.apple.HIToolbox.plist that lists the
// enabled input sources.
type hiToolbox struct {
	Sources []map[string]any `plist:"AppleEnabledInputSources"`
}

// macSource reads a string field of one input source dictionary.
func macSource(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return clean(s)
}

// parseHIToolbox reads a user's com.apple.HIToolbox.plist (binary or XML)
// and returns its AppleEnabledInputSources:
//
//   - "Keyboard Layout" entries become layouts with ID
//     "com.apple.keylayout.<name>", the "KeyboardLayout Name" without its
//     spaces and dots ("U.S." → com.apple.keylayout.US), as macOS names the
//     input source of most layouts;
//   - "Input Mode" entries become input methods with the "Input Mode" as ID
//     ("com.apple.inputmethod.Korean.2SetKorean");
//   - "Keyboard Input Method" and "Input Method" entries (an input method
//     bundle, "Bundle ID") become input methods too, unless an input mode
//     of the same bundle is listed; palettes and other non-keyboard sources
//     are skipped.
func parseHIToolbox(b []byte, source, user string) (ls []Layout, err error) {
	var h hiToolbox
	if err := decodePlist(b, &h); err != nil {
		return nil, err
	}
	modes := map[string]bool{}
	for _, s := range h.Sources {
		if macSource(s, "InputSourceKind") == "Input Mode" {
			modes[macSource(s, "Bundle ID")] = true
		}
	}
	for i, s := range h.Sources {
		if i == maxList {
			break
		}
		l := Layout{Source: source, User: user}
		switch macSource(s, "InputSourceKind") {
		case "Keyboard Layout":
			name := macSource(s, "KeyboardLayout Name")
			id := strings.NewReplacer(" ", "", ".", "").Replace(name)
			if id == "" {
				continue
			}
			l.ID, l.Kind = "com.apple.keylayout."+id, KindLayout
			l.Language = macLanguage(name)
			if l.Language == "" {
				l.Language = macLanguage(l.ID)
			}
		case "Input Mode":
			l.ID, l.Kind = macSource(s, "Input Mode"), KindIME
			if l.ID == "" {
				l.ID = macSource(s, "Bundle ID")
			}
			l.Language = macLanguage(l.ID)
		case "Keyboard Input Method", "Input Method":
			l.ID, l.Kind = macSource(s, "Bundle ID"), KindIME
			if modes[l.ID] {
				continue
			}
			l.Language = macLanguage(l.ID)
		default:
			continue
		}
		ls = add(ls, l)
	}
	return ls, nil
}

// decodePlist decodes an XML or binary plist. The decoder is not trusted
// not to panic on hostile input, so a panic becomes an error.
func decodePlist(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed plist: %v", r)
		}
	}()
	if err := plist.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return fmt.Errorf("decode plist: %w", err)
	}
	return nil
}
