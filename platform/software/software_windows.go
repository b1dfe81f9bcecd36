package software

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

func list(context.Context) ([]Package, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return nil, fmt.Errorf(`open HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall: %w`, err)
	}
	k.Close()
	return uninstallEntries(liveRegistry{}), nil
}

// liveRegistry reads the registry of this computer through regReader. A
// 64-bit agent sees the native view; the WOW6432Node paths are read as
// written. Every call opens and closes its key.
type liveRegistry struct{}

var regRoots = map[string]registry.Key{
	"HKLM": registry.LOCAL_MACHINE,
	"HKU":  registry.USERS,
	"HKCU": registry.CURRENT_USER,
}

// with opens path and calls fn with the key; false when it cannot be opened.
func (liveRegistry) with(path string, access uint32, fn func(registry.Key)) bool {
	root, rest, _ := strings.Cut(path, `\`)
	k, ok := regRoots[strings.ToUpper(root)]
	if !ok {
		return false
	}
	if rest == "" { // a predefined root: never closed
		fn(k)
		return true
	}
	key, err := registry.OpenKey(k, rest, access)
	if err != nil {
		return false
	}
	defer key.Close()
	fn(key)
	return true
}

func (r liveRegistry) String(path, name string) (s string, ok bool) {
	r.with(path, registry.QUERY_VALUE, func(k registry.Key) {
		var err error
		s, _, err = k.GetStringValue(name)
		ok = err == nil
	})
	return s, ok
}

func (r liveRegistry) DWord(path, name string) (v uint32, ok bool) {
	r.with(path, registry.QUERY_VALUE, func(k registry.Key) {
		n, typ, err := k.GetIntegerValue(name)
		v, ok = uint32(n), err == nil && typ == registry.DWORD
	})
	return v, ok
}

func (r liveRegistry) Subkeys(path string) (names []string) {
	r.with(path, registry.ENUMERATE_SUB_KEYS, func(k registry.Key) {
		names, _ = k.ReadSubKeyNames(-1)
	})
	return names
}
