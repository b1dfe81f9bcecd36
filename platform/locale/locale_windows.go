package locale

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// localeNameMaxLength is LOCALE_NAME_MAX_LENGTH (winnls.h).
const localeNameMaxLength = 85

func read(context.Context) (Locale, error) {
	var errs []error
	l := Locale{Source: "GetSystemDefaultLocaleName"}
	name, err := localeName("GetSystemDefaultLocaleName")
	if err != nil {
		errs = append(errs, err)
		l.Source = "GetUserDefaultLocaleName"
		if name, err = localeName("GetUserDefaultLocaleName"); err != nil {
			errs = append(errs, err)
			l.Source = ""
		}
	}
	l.Locale = name
	if langs, err := windows.GetSystemPreferredUILanguages(windows.MUI_LANGUAGE_NAME); err != nil {
		errs = append(errs, fmt.Errorf("GetSystemPreferredUILanguages: %w", err))
	} else {
		l.Languages = langs
	}
	if len(l.Languages) == 0 && l.Locale != "" {
		l.Languages = []string{l.Locale}
	}
	return l, errors.Join(errs...)
}

// localeName calls one of kernel32's Get*DefaultLocaleName functions.
func localeName(fn string) (string, error) {
	proc := windows.NewLazySystemDLL("kernel32.dll").NewProc(fn)
	if err := proc.Find(); err != nil {
		return "", fmt.Errorf("%s: %w", fn, err)
	}
	buf := make([]uint16, localeNameMaxLength)
	n, _, err := proc.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if n == 0 {
		return "", fmt.Errorf("%s: %w", fn, err)
	}
	return windows.UTF16ToString(buf), nil
}
