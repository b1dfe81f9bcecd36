package location

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/farmwatch/farmwatch/server/store"
)

// Limits of an HR import.
const (
	MaxPeopleRows  = 1_000_000
	MaxFieldLength = 256
	maxRowErrors   = 50
)

// peopleColumns are the columns an HR file may have; employee_id is required, and so is one of
// device_serial and device_hostname, and one of country and time_zone.
var peopleColumns = []string{"employee_id", "name", "email", "country", "region", "city", "time_zone",
	"latitude", "longitude", "languages", "night_shift", "device_serial", "device_hostname"}

// ImportError lists every bad row of an HR file; nothing of a file with one is imported.
type ImportError struct {
	Problems []string // "line 7: country "XX" is not an ISO 3166 code"
	More     int      // problems not listed
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in the HR file; nothing was imported:", len(e.Problems)+e.More)
	for _, p := range e.Problems {
		b.WriteString("\n  " + p)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", e.More)
	}
	return b.String()
}

// ParsePeopleCSV reads an HR export: a header row naming columns from peopleColumns (any order,
// case-insensitive), then one employee per row. Every row is checked; any problem fails the
// whole file with an *ImportError naming each bad line.
func ParsePeopleCSV(r io.Reader) ([]store.Person, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the HR file is empty: it needs a header row (employee_id,country,time_zone,device_serial,...)")
	}
	if err != nil {
		return nil, fmt.Errorf("line 1: %w", csvCause(err))
	}
	col := map[string]int{}
	ie := &ImportError{}
	problem := func(format string, args ...any) {
		if len(ie.Problems) < maxRowErrors {
			ie.Problems = append(ie.Problems, fmt.Sprintf(format, args...))
		} else {
			ie.More++
		}
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !contains(peopleColumns, h) {
			problem("line 1: unknown column %q (known: %s)", h, strings.Join(peopleColumns, ", "))
			continue
		}
		if _, dup := col[h]; dup {
			problem("line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	if _, ok := col["employee_id"]; !ok {
		problem("line 1: the employee_id column is missing")
	}
	_, hasSerial := col["device_serial"]
	_, hasHost := col["device_hostname"]
	if !hasSerial && !hasHost {
		problem("line 1: a device_serial or device_hostname column is needed to match devices")
	}
	if len(ie.Problems) > 0 {
		return nil, ie
	}
	var out []store.Person
	ids, serials, hosts := map[string]int{}, map[string]int{}, map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				problem("line %d: %v", pe.Line, pe.Err)
				if errors.Is(pe.Err, csv.ErrFieldCount) {
					continue
				}
				return nil, ie // the reader cannot resync after a quoting error
			}
			return nil, err
		}
		line := 0
		if len(rec) > 0 {
			line, _ = cr.FieldPos(0)
		}
		if len(out) >= MaxPeopleRows {
			return nil, fmt.Errorf("the HR file has more than %d rows", MaxPeopleRows)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			problem("line %d: %d fields, the header has %d", line, len(rec), len(header))
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		bad := false
		fail := func(format string, args ...any) {
			problem("line %d: "+format, append([]any{line}, args...)...)
			bad = true
		}
		for _, name := range peopleColumns {
			v := get(name)
			if len(v) > MaxFieldLength {
				fail("%s is longer than %d bytes", name, MaxFieldLength)
			} else if !utf8.ValidString(v) {
				fail("%s is not valid UTF-8", name)
			} else if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				fail("%s contains control characters", name)
			}
		}
		if bad {
			continue
		}
		p := store.Person{EmployeeID: get("employee_id"), Name: get("name"), Email: get("email"), Country: strings.ToUpper(get("country")),
			Region: get("region"), City: get("city"), TimeZone: get("time_zone"), DeviceSerial: get("device_serial"), DeviceHostname: strings.ToLower(get("device_hostname"))}
		if p.EmployeeID == "" {
			fail("employee_id is empty")
		} else if prev, dup := ids[p.EmployeeID]; dup {
			fail("employee_id %q already on line %d", p.EmployeeID, prev)
		} else {
			ids[p.EmployeeID] = line
		}
		if p.Country == "" && p.TimeZone == "" {
			fail("neither country nor time_zone is given")
		}
		if p.Country != "" && !ValidCountry(p.Country) {
			fail("country %q is not an ISO 3166 code", p.Country)
		}
		if p.TimeZone != "" {
			if _, err := ZoneOffset(p.TimeZone, time.Now()); err != nil || strings.EqualFold(p.TimeZone, "local") {
				fail("time_zone %q is not an IANA zone name (like America/New_York)", p.TimeZone)
			} else if z, ok := ZoneInfo(p.TimeZone); ok && p.Country != "" && z.Country != p.Country {
				fail("time_zone %s is in %s, not in country %s", p.TimeZone, z.Country, p.Country)
			}
		}
		if p.DeviceSerial == "" && p.DeviceHostname == "" {
			fail("neither device_serial nor device_hostname is given")
		}
		if s := p.DeviceSerial; s != "" {
			if prev, dup := serials[s]; dup {
				fail("device_serial %q already on line %d", s, prev)
			}
			serials[s] = line
		}
		if h := p.DeviceHostname; h != "" {
			if prev, dup := hosts[h]; dup {
				fail("device_hostname %q already on line %d", h, prev)
			}
			hosts[h] = line
		}
		lat, lon := get("latitude"), get("longitude")
		switch {
		case lat == "" && lon == "":
		case lat == "" || lon == "":
			fail("latitude and longitude go together")
		default:
			la, err1 := strconv.ParseFloat(lat, 64)
			lo, err2 := strconv.ParseFloat(lon, 64)
			if err1 != nil || err2 != nil || la < -90 || la > 90 || lo < -180 || lo > 180 {
				fail("coordinates %q,%q are not degrees (latitude -90..90, longitude -180..180)", lat, lon)
			} else {
				p.HasCoordinates, p.Latitude, p.Longitude = true, la, lo
			}
		}
		for _, l := range strings.FieldsFunc(get("languages"), func(r rune) bool { return r == ';' || r == ' ' || r == '|' }) {
			b := baseLanguage(l)
			if len(b) < 2 || len(b) > 3 || !isLetters(b) {
				fail("language %q is not a language code (like en or ko)", l)
				continue
			}
			p.Languages = append(p.Languages, b)
		}
		switch v := strings.ToLower(get("night_shift")); v {
		case "", "false", "no", "0", "n":
		case "true", "yes", "1", "y":
			p.NightShift = true
		default:
			fail("night_shift %q is not yes or no", v)
		}
		if !bad {
			out = append(out, p)
		}
	}
	if len(ie.Problems) > 0 || ie.More > 0 {
		return nil, ie
	}
	if len(out) == 0 {
		return nil, errors.New("the HR file has a header but no employees")
	}
	return out, nil
}

func csvCause(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
