package timezone

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/windows/registry"
)

const (
	tzKey  = `SYSTEM\CurrentControlSet\Control\TimeZoneInformation`
	geoKey = `Control Panel\International\Geo`
)

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
	if name, ok := IANAFromWindows(z.WindowsZone, userRegion()); ok {
		z.Name, z.Source = name, "registry + CLDR windowsZones"
	}
	return z, nil
}

// userRegion returns the user's home region as an ISO 3166 code ("DE") from
// HKCU\Control Panel\International\Geo\Name (Windows 10 and later), or ""
// when it is absent or not a two-letter code (then the primary zone is used).
func userRegion() string {
	k, err := registry.OpenKey(registry.CURRENT_USER, geoKey, registry.QUERY_VALUE)
	if err != nil {
		return ""
	}
	defer k.Close()
	v, _, err := k.GetStringValue("Name")
	if err != nil {
		return ""
	}
	v = strings.TrimSpace(strings.TrimRight(v, "\x00"))
	if len(v) != 2 || !isASCIILetter(v[0]) || !isASCIILetter(v[1]) {
		return ""
	}
	return strings.ToUpper(v)
}

func isASCIILetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
