package timezone

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/windows/registry"
)

const tzKey = `SYSTEM\CurrentControlSet\Control\TimeZoneInformation`

func read(context.Context) (Zone, error) {
	var z Zone
	z.fill(time.Local, time.Now())
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, tzKey, registry.QUERY_VALUE)
	if err != nil {
		return z, fmt.Errorf("open HKLM\\%s: %w", tzKey, err)
	}
	defer k.Close()
	id, _, err := k.GetStringValue("TimeZoneKeyName")
	if err != nil {
		return z, fmt.Errorf("read HKLM\\%s\\TimeZoneKeyName: %w", tzKey, err)
	}
	// Some Windows versions pad the value with NULs.
	z.WindowsZone = strings.TrimSpace(strings.TrimRight(id, "\x00"))
	z.Source = "registry"
	return z, nil
}
