package display

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/farmwatch/farmwatch/platform/winreg"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

func list(ctx context.Context) ([]Display, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Enum\DISPLAY`, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		if errors.Is(err, registry.ErrNotExist) {
			return nil, nil // no monitor ever enumerated (a VM without a display adapter)
		}
		return nil, fmt.Errorf(`open HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY: %w`, err)
	}
	k.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	present, perr := presentDisplays()
	ds := registryDisplays(liveRegistry{}, present)
	return ds, perr
}

// presentDisplays returns the upper-case instance ids of the DISPLAY
// devices present now, from SetupAPI; nil and an error when it fails.
func presentDisplays() (map[string]bool, error) {
	set, err := windows.SetupDiGetClassDevsEx(nil, "DISPLAY", 0, windows.DIGCF_ALLCLASSES|windows.DIGCF_PRESENT, 0, "")
	if err != nil {
		return nil, fmt.Errorf("SetupDiGetClassDevsEx(DISPLAY, present): %w", err)
	}
	defer set.Close()
	present := map[string]bool{}
	for i := 0; ; i++ {
		data, err := set.EnumDeviceInfo(i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("SetupDiEnumDeviceInfo(%d): %w", i, err)
		}
		id, err := set.DeviceInstanceID(data)
		if err != nil {
			continue
		}
		present[strings.ToUpper(id)] = true
	}
	return present, nil
}

// liveRegistry reads HKLM of this computer; every call opens and closes its
// key.
type liveRegistry struct{ winreg.Live }

// open opens an `HKLM\...` path.
func (liveRegistry) open(path string, access uint32) (registry.Key, bool) {
	rest, ok := strings.CutPrefix(path, `HKLM\`)
	if !ok {
		return 0, false
	}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, rest, access)
	return k, err == nil
}

// Binary reads into a buffer of maxEDIDRead bytes; a larger value (not an
// EDID) is not read.
func (r liveRegistry) Binary(path, name string) ([]byte, bool) {
	k, ok := r.open(path, registry.QUERY_VALUE)
	if !ok {
		return nil, false
	}
	defer k.Close()
	buf := make([]byte, maxEDIDRead)
	n, typ, err := k.GetValue(name, buf)
	if err != nil || typ != registry.BINARY {
		return nil, false
	}
	return buf[:n], true
}
