package location

import (
	_ "embed"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the collector answers the same on every OS, whatever zoneinfo it has
)

// zone.tab and iso3166.tab are copied from the IANA time zone database (public domain) as
// Debian's tzdata 2025b ships them.
var (
	//go:embed zone.tab
	zoneTab string
	//go:embed iso3166.tab
	iso3166Tab string
)

// Zone is one row of zone.tab: a zone, the country it is in and its principal city.
type Zone struct {
	Name      string
	Country   string
	Latitude  float64
	Longitude float64
	Comment   string
}

type zoneData struct {
	byName    map[string]Zone
	byCountry map[string][]Zone
	countries map[string]string // code -> name
}

var zones = sync.OnceValue(func() *zoneData {
	d := &zoneData{byName: map[string]Zone{}, byCountry: map[string][]Zone{}, countries: map[string]string{}}
	for _, line := range strings.Split(iso3166Tab, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		code, name, _ := strings.Cut(line, "\t")
		d.countries[code] = name
	}
	for _, line := range strings.Split(zoneTab, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			continue
		}
		lat, lon, err := parseISO6709(f[1])
		if err != nil {
			panic(fmt.Sprintf("zone.tab %s: %v", f[2], err))
		}
		z := Zone{Name: f[2], Country: f[0], Latitude: lat, Longitude: lon}
		if len(f) > 3 {
			z.Comment = f[3]
		}
		d.byName[z.Name] = z
		d.byCountry[z.Country] = append(d.byCountry[z.Country], z)
	}
	return d
})

// parseISO6709 reads zone.tab's coordinates: ±DDMM±DDDMM or ±DDMMSS±DDDMMSS.
func parseISO6709(s string) (lat, lon float64, err error) {
	i := strings.IndexAny(s[1:], "+-") + 1
	if i <= 0 {
		return 0, 0, fmt.Errorf("coordinates %q", s)
	}
	if lat, err = dms(s[:i], 2); err != nil {
		return 0, 0, err
	}
	lon, err = dms(s[i:], 3)
	return lat, lon, err
}

func dms(s string, degDigits int) (float64, error) {
	sign := 1.0
	if s[0] == '-' {
		sign = -1
	}
	digits := s[1:]
	if len(digits) != degDigits+2 && len(digits) != degDigits+4 {
		return 0, fmt.Errorf("coordinate %q", s)
	}
	v := 0.0
	for i, div := 0, 1.0; i < len(digits); div *= 60 {
		n := degDigits
		if i > 0 {
			n = 2
		}
		x, err := strconv.Atoi(digits[i : i+n])
		if err != nil {
			return 0, fmt.Errorf("coordinate %q", s)
		}
		v += float64(x) / div
		i += n
	}
	return sign * v, nil
}

// locations caches loaded zones: time.LoadLocation parses the zone file on every call.
// Only zones that exist are kept, so the cache is bounded by the tz database.
var locations sync.Map // name -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if v, ok := locations.Load(name); ok {
		return v.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	locations.Store(name, l)
	return l, nil
}

// ZoneInfo returns the zone.tab row of an IANA zone name.
func ZoneInfo(name string) (Zone, bool) {
	z, ok := zones().byName[name]
	return z, ok
}

// CountryName returns the ISO 3166 name of a country code, "" when unknown.
func CountryName(code string) string { return zones().countries[strings.ToUpper(code)] }

// ValidCountry says whether code is an ISO 3166-1 alpha-2 code the time zone database knows.
func ValidCountry(code string) bool { return CountryName(code) != "" }

// CountryOffsets returns the UTC offsets, in seconds and sorted, that clocks in a country
// show at t, over all its zones. Nil for an unknown country.
func CountryOffsets(country string, t time.Time) []int32 {
	zs := zones().byCountry[strings.ToUpper(country)]
	if len(zs) == 0 {
		return nil
	}
	seen := map[int32]bool{}
	for _, z := range zs {
		loc, err := loadLocation(z.Name)
		if err != nil {
			continue
		}
		_, off := t.In(loc).Zone()
		seen[int32(off)] = true
	}
	out := make([]int32, 0, len(seen))
	for o := range seen {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ZoneOffset returns the UTC offset of an IANA zone at t.
func ZoneOffset(name string, t time.Time) (int32, error) {
	loc, err := loadLocation(name)
	if err != nil {
		return 0, err
	}
	_, off := t.In(loc).Zone()
	return int32(off), nil
}

// FormatOffset writes an offset as UTC+09:00.
func FormatOffset(sec int32) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, sec/3600, sec%3600/60)
}

func formatOffsets(offs []int32) string {
	parts := make([]string, len(offs))
	for i, o := range offs {
		parts[i] = FormatOffset(o)
	}
	return strings.Join(parts, ",")
}

// DistanceKm is the great-circle distance between two points (haversine, mean Earth radius).
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}
