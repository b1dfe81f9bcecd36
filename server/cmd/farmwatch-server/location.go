package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/farmwatch/farmwatch/server/geoip"
	"github.com/farmwatch/farmwatch/server/location"
	"github.com/farmwatch/farmwatch/server/store"
)

// defaultGeoDir is where the bundled geolocation databases are looked for: the data
// directory's geoip/, then the copy the package installs, then ./var/geoip of a source
// checkout (make geodata). The first with a country.mmdb wins; else the data directory's.
func defaultGeoDir(dataDir string) string {
	cands := []string{filepath.Join(dataDir, "geoip")}
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", "share", "farmwatch", "geoip"))
	}
	if runtime.GOOS == "linux" {
		cands = append(cands, "/usr/share/farmwatch/geoip")
	}
	cands = append(cands, filepath.Join("var", "geoip"))
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c, geoip.CountryFile)); err == nil {
			return c
		}
	}
	return cands[0]
}

// openGeo opens the customer's own files when given, else the bundled ones. On failure it
// returns the reason: the collector serves on with the signals that need it off.
func openGeo(dataDir, dir, countryFile, asnFile string) (*geoip.DB, string) {
	var db *geoip.DB
	var err error
	if countryFile != "" || asnFile != "" {
		db, err = geoip.OpenFiles(countryFile, asnFile)
	} else {
		if dir == "" {
			dir = defaultGeoDir(dataDir)
		}
		db, err = geoip.Open(dir)
	}
	if err != nil {
		return nil, err.Error()
	}
	return db, ""
}

func parseCoordinates(s string) (location.Coordinates, error) {
	a, b, ok := strings.Cut(s, ",")
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return location.Coordinates{}, fmt.Errorf("%q is not LAT,LON in degrees (like 39.04,-77.49)", s)
	}
	return location.Coordinates{Latitude: lat, Longitude: lon}, nil
}

func cmdPeopleImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("people import", stderr)
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	file, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer file.Close()
	people, err := location.ParsePeopleCSV(io.LimitReader(file, 512<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	if err := st.ReplacePeople(ctx, people, now); err != nil {
		return fmt.Errorf("import: %w (nothing was imported)", err)
	}
	actor := "cli"
	if u := os.Getenv("USER"); u != "" {
		actor = "cli:" + u
	}
	_ = st.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "people.import", Target: filepath.Base(pos[0]), Detail: fmt.Sprintf("%d employees", len(people))})
	fmt.Fprintf(stdout, "imported %d employees from %s (the previous import is replaced; a running collector re-derives location findings within a minute)\n", len(people), pos[0])
	return nil
}

func cmdPeopleList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("people list", stderr)
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	people, err := st.People(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			EmployeeID     string   `json:"employee_id"`
			Name           string   `json:"name,omitempty"`
			Email          string   `json:"email,omitempty"`
			Country        string   `json:"country,omitempty"`
			TimeZone       string   `json:"time_zone,omitempty"`
			Latitude       *float64 `json:"latitude,omitempty"`
			Longitude      *float64 `json:"longitude,omitempty"`
			Languages      []string `json:"languages,omitempty"`
			NightShift     bool     `json:"night_shift"`
			DeviceSerial   string   `json:"device_serial,omitempty"`
			DeviceHostname string   `json:"device_hostname,omitempty"`
		}
		out := make([]row, 0, len(people))
		for _, p := range people {
			r := row{p.EmployeeID, p.Name, p.Email, p.Country, p.TimeZone, nil, nil, p.Languages, p.NightShift, p.DeviceSerial, p.DeviceHostname}
			if p.HasCoordinates {
				r.Latitude, r.Longitude = &p.Latitude, &p.Longitude
			}
			out = append(out, r)
		}
		return writeJSON(stdout, out)
	}
	if len(people) == 0 {
		fmt.Fprintln(stdout, "no HR import (farmwatch-server people import FILE.csv)")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EMPLOYEE\tNAME\tCOUNTRY\tTIME ZONE\tLANGUAGES\tNIGHT SHIFT\tDEVICE")
	for _, p := range people {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", p.EmployeeID, p.Name, p.Country, p.TimeZone, strings.Join(p.Languages, ","), p.NightShift,
			strings.TrimPrefix(p.DeviceSerial+" "+p.DeviceHostname, " "))
	}
	return tw.Flush()
}
