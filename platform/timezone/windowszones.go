package timezone

import (
	_ "embed"
	"strings"
	"sync"
)

//go:generate go run ./internal/cldrgen/cmd/cldrgen -in internal/cldrgen -o windowszones.csv

// windowsZonesCSV maps Windows time zone ids to IANA zones. It is generated
// from Unicode CLDR 48 (npm cldr-core@48.2.0 supplemental/windowsZones.json,
// current IANA names from npm cldr-bcp47@48.2.0) by internal/cldrgen;
// Unicode License v3, see LICENSE-CLDR.
//
//go:embed windowszones.csv
var windowsZonesCSV string

// windowsZones is windowsZonesCSV parsed: Windows id → territory → zone,
// the primary zone under territory "001".
var windowsZones = sync.OnceValue(func() map[string]map[string]string {
	m := map[string]map[string]string{}
	for line := range strings.Lines(windowsZonesCSV) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ",")
		territory, zone, ok2 := strings.Cut(rest, ",")
		if !ok1 || !ok2 {
			panic("timezone: malformed windowszones.csv line: " + line)
		}
		if m[id] == nil {
			m[id] = map[string]string{}
		}
		m[id][territory] = zone
	}
	return m
})

// IANAFromWindows returns the IANA zone for a Windows time zone id
// ("W. Europe Standard Time" → "Europe/Berlin") following CLDR's
// windowsZones mapping. territory is an ISO 3166 region code ("HK", case
// insensitive) that picks the zone CLDR gives for that region
// ("China Standard Time" in "HK" → "Asia/Hong_Kong"); "", "001" or a region
// CLDR lists no zone for gives the id's primary zone. ok is false when the
// id is unknown.
func IANAFromWindows(id, territory string) (name string, ok bool) {
	zones, ok := windowsZones()[id]
	if !ok {
		return "", false
	}
	if z, ok := zones[strings.ToUpper(territory)]; ok && territory != "" {
		return z, true
	}
	return zones["001"], true
}
