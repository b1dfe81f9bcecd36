package software

import (
	"context"
	"fmt"

	"github.com/farmwatch/farmwatch/platform/winreg"
	"golang.org/x/sys/windows/registry"
)

func list(context.Context) ([]Package, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return nil, fmt.Errorf(`open HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall: %w`, err)
	}
	k.Close()
	return uninstallEntries(winreg.Live{}), nil
}
