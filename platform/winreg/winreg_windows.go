package winreg

import (
	"strings"

	"golang.org/x/sys/windows/registry"
)

// Live reads the registry of this machine. Each call opens and closes one key.
type Live struct{}

var roots = map[string]registry.Key{
	"HKLM": registry.LOCAL_MACHINE,
	"HKU":  registry.USERS,
	"HKCU": registry.CURRENT_USER,
}

// with opens path and calls fn with the key; false when it cannot be opened.
func (Live) with(path string, access uint32, fn func(registry.Key)) bool {
	root, rest, _ := strings.Cut(path, `\`)
	k, ok := roots[strings.ToUpper(root)]
	if !ok || rest == "" {
		return false
	}
	key, err := registry.OpenKey(k, rest, access)
	if err != nil {
		return false
	}
	defer key.Close()
	fn(key)
	return true
}

// String reads a REG_SZ or REG_EXPAND_SZ value.
func (r Live) String(path, name string) (s string, ok bool) {
	r.with(path, registry.QUERY_VALUE, func(k registry.Key) {
		var err error
		s, _, err = k.GetStringValue(name)
		ok = err == nil
	})
	return s, ok
}

// DWord reads a REG_DWORD value.
func (r Live) DWord(path, name string) (v uint32, ok bool) {
	r.with(path, registry.QUERY_VALUE, func(k registry.Key) {
		n, typ, err := k.GetIntegerValue(name)
		v, ok = uint32(n), err == nil && typ == registry.DWORD
	})
	return v, ok
}

// Subkeys lists the names of a key's subkeys.
func (r Live) Subkeys(path string) (names []string) {
	r.with(path, registry.ENUMERATE_SUB_KEYS, func(k registry.Key) {
		names, _ = k.ReadSubKeyNames(-1)
	})
	return names
}
