// Package locale reads the language settings of this computer: the system
// locale and the preferred display languages.
//
// The location detector weighs them (a Russian or Korean system locale on a
// laptop issued in Ohio) together with keyboard layouts and time zone.
package locale

import (
	"context"
	"errors"
	"runtime"
)

// Locale is the system's language configuration.
type Locale struct {
	// Locale is the system locale: POSIX form on Linux and macOS
	// ("en_US.UTF-8"), BCP 47 form on Windows ("en-US"). "" when unset.
	Locale string
	// Languages are the preferred languages, most preferred first: LANGUAGE
	// on Linux ("de_DE", "en"), the preferred UI languages on Windows
	// ("de-DE", "en-US"). When nothing lists them, Locale's language and
	// territory alone ("en_US").
	Languages []string
	// Source says where Locale came from: "/etc/locale.conf",
	// "/etc/default/locale", "environment" or "GetSystemDefaultLocaleName".
	Source string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// Read returns the locale of the computer at root.
//
// Linux reads the system configuration, which is what a service (and the
// login session) inherits: ROOT/etc/locale.conf (systemd), then
// ROOT/etc/default/locale (Debian); in the first that sets one, LC_ALL wins
// over LANG. Only when neither file sets a locale does the live system fall
// back to this process's environment (LC_ALL, LANG, LANGUAGE).
//
// macOS reads only the environment for now: a launchd daemon usually has no
// LANG, so Locale is often empty there (reading AppleLocale from the binary
// /Library/Preferences/.GlobalPreferences.plist is not done yet). Windows
// asks kernel32 (GetSystemDefaultLocaleName, GetSystemPreferredUILanguages).
//
// Any other root is a captured Linux tree, read on every OS.
//
// Cost: two small file reads, or two kernel32 calls.
func Read(ctx context.Context, root string) (Locale, error) {
	if root != "" && root != "/" {
		return readTree(root, nil)
	}
	return read(ctx)
}
