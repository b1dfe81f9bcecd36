// Package keyboard lists the keyboard layouts and input methods configured
// on this computer, with the language each one types.
//
// The location detector weighs them against the employee's claimed country:
// a Korean IME on a laptop issued in Ohio, a Russian layout next to the US
// one. Locale (platform/locale) and time zone are weighed alongside.
package keyboard

import (
	"context"
	"errors"
	"runtime"
	"strings"
)

// Layout is one configured keyboard layout or input method.
type Layout struct {
	// ID names the layout as its source does: an XKB layout with its
	// variant ("us", "de(nodeadkeys)"), a console keymap ("de-latin1"), an
	// input method engine ("hangul", "mozc"), a Windows KLID ("00000412")
	// or text service ("{clsid}\{profile}"), a macOS input source
	// ("com.apple.keylayout.US", "com.apple.inputmethod.Korean.2SetKorean").
	ID string
	// Language is the BCP 47 tag of the language the layout types ("en-US",
	// "ko-KR"), from the embedded tables in languages.txt; "" when unknown.
	Language string
	// Kind is KindLayout or KindIME.
	Kind string
	// Source is the file (as seen on the computer, "/etc/default/keyboard")
	// or registry key the entry came from, or SourceInstalled.
	Source string
	// User is the owner of a per-user setting: the home directory name on
	// Linux and macOS, the SID on Windows; "" for system-wide settings.
	User string
}

// Kinds of Layout.
const (
	KindLayout = "layout" // a keyboard layout (XKB, keymap, KLID, keylayout)
	KindIME    = "ime"    // an input method (engine, TIP, input mode)
)

// SourceInstalled marks an input method that is installed, not known to be
// enabled (ibus engines; see List).
const SourceInstalled = "installed"

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// List returns the keyboard layouts and input methods of the computer at
// root, in the order found: by source, then in each source's own order (the
// first layout of a list is the default one).
//
// root "" or "/" is the live system. Any other root is a captured tree,
// read on every OS with both file-based readers (Linux and macOS); sources
// absent from a tree are skipped silently.
//
// Linux reads, relative to root:
//
//	etc/default/keyboard                 XKBLAYOUT, XKBVARIANT (Debian, Ubuntu)
//	etc/vconsole.conf                    KEYMAP, XKBLAYOUT, XKBVARIANT (systemd)
//	etc/X11/xorg.conf.d/*.conf           Option "XkbLayout" / "XkbVariant"
//	home/*/.config/fcitx5/profile        [Groups/N/Items/M] Name=  (per user)
//	home/*/.config/fcitx/profile         EnabledIMList= entries set True (per user)
//	usr/share/ibus/component/*.xml       installed ibus engines
//
// ibus keeps the user's enabled engines in dconf (~/.config/dconf/user, a
// binary GVariant database), which is not parsed: ibus engines are reported
// as installed (Source SourceInstalled, User ""), whether or not anyone
// enabled them; the generic xkb:* engines are skipped.
//
// macOS reads Users/*/Library/Preferences/com.apple.HIToolbox.plist (binary
// or XML): its AppleEnabledInputSources, keyboard layouts and input modes.
//
// Windows reads the loaded user hives under HKU (users logged on, or whose
// hive a service keeps loaded): Keyboard Layout\Preload with its
// Substitutes, and the input methods enabled under Software\Microsoft\CTF\TIP.
//
// A source that fails is reported in the joined error while the others are
// still returned. Cost: a few small file reads and one directory listing per
// home directory, or about ten registry reads per user.
func List(ctx context.Context, root string) ([]Layout, error) {
	if root != "" && root != "/" {
		return readTree(ctx, root)
	}
	return list(ctx)
}

// maxField bounds any string taken from a file or the registry.
const maxField = 128

// clean bounds and checks a name from untrusted input: printable ASCII
// without control characters or double quotes, at most maxField
// bytes; anything else yields "".
func clean(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxField {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' {
			return ""
		}
	}
	return s
}

// add appends l to ls unless its ID is unusable or it is already there.
func add(ls []Layout, l Layout) []Layout {
	if l.ID = clean(l.ID); l.ID == "" {
		return ls
	}
	l.User = clean(l.User)
	for _, o := range ls {
		if o == l {
			return ls
		}
	}
	return append(ls, l)
}
