// Package timezone reads the time zone this computer's clock is set to.
//
// The location detector compares it with where the laptop's traffic leaves
// the network; a zone that disagrees with the egress country, or that keeps
// changing, is evidence.
package timezone

import (
	"context"
	"errors"
	"runtime"
	"time"
)

// Zone is the configured time zone and its state now.
type Zone struct {
	// Name is the IANA zone ("Europe/Berlin"), or "" when unknown: a copied
	// /etc/localtime, a POSIX TZ string, or a Windows zone id CLDR does not
	// map (see WindowsZone).
	Name string
	// Abbreviation is the zone's abbreviation now ("CEST", "EST", "+04").
	Abbreviation string
	// UTCOffsetSeconds is the offset from UTC now, east positive.
	UTCOffsetSeconds int32
	// DST is whether daylight saving time is in effect now.
	DST bool
	// Source says where Name came from: "TZ", "/etc/localtime symlink",
	// "/etc/timezone", "/etc/localtime file" (offset only), "registry + CLDR
	// windowsZones" (Windows, Name mapped from WindowsZone) or "registry"
	// (Windows, WindowsZone only).
	Source string
	// WindowsZone is the Windows time zone id ("W. Europe Standard Time");
	// only set on Windows. Name is mapped from it with IANAFromWindows, for
	// the user's region (HKCU\Control Panel\International\Geo\Name) when
	// set.
	WindowsZone string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// Read returns the zone of the computer at root, evaluated at the current time.
//
// root "" or "/" is the live system. On Linux and macOS the name comes from,
// in order: the TZ environment variable (live only, when it names a loadable
// zone), the /etc/localtime symlink (what glibc and timedatectl use), and
// the Debian-only /etc/timezone (which can be stale, hence last). Offset and
// DST come from the named zone's rules, or from the bytes of /etc/localtime
// when the name is unknown or its rules cannot be loaded. Windows reads the
// registry (TimeZoneKeyName), maps it to an IANA name with CLDR's
// windowsZones table (see IANAFromWindows), and takes the offset from Go's
// local zone.
//
// Any other root is a captured Linux tree, read on every OS; zone rules are
// then taken from ROOT/usr/share/zoneinfo first.
//
// Cost: a readlink, one or two small reads and parsing one zoneinfo file.
func Read(ctx context.Context, root string) (Zone, error) {
	if root != "" && root != "/" {
		return readTree(root, false, time.Now())
	}
	return read(ctx)
}

// fill sets the zone's state at now from loc.
func (z *Zone) fill(loc *time.Location, now time.Time) {
	t := now.In(loc)
	abbr, off := t.Zone()
	z.Abbreviation, z.UTCOffsetSeconds, z.DST = abbr, int32(off), t.IsDST()
}
