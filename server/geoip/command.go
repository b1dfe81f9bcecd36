package geoip

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

const commandUsage = `usage: geoip [--json] [--dir DIR] [--country FILE] [--asn FILE] IP...

Looks up IP addresses in the offline geolocation databases.
  --json          print a JSON array of results
  --dir DIR       directory with country.mmdb, asn.mmdb and an optional
                  asn-classes.json (default %s)
  --country FILE  use this MaxMind-format country/city database instead
  --asn FILE      use this MaxMind-format ASN database instead
Build the default databases with "make geodata".
`

// Command implements the collector's `geoip` sub-command:
//
//	geoip [--json] [--dir DIR] [--country FILE] [--asn FILE] IP...
//
// Flags may appear before or between the IPs ("--" ends them; "--flag=value"
// also works). Text mode prints an aligned table, --json a JSON array of
// Result objects. --country/--asn replace the matching file of the
// directory; the directory's asn-classes.json is still used.
//
// Exit codes: 0 all looked up; 1 a database is missing or corrupt (message
// names the path and suggests `make geodata`), nothing printed on stdout;
// 2 usage error or at least one argument is not an IP address. Bad
// arguments are reported on stderr, one line each, and the good ones are
// still looked up and printed (the JSON array then holds only them), so a
// script gets every answer it can plus a non-zero status.
func Command(args []string, stdout, stderr io.Writer, defaultDir string) int {
	var (
		asJSON               bool
		dir                  = defaultDir
		countryPath, asnPath string
		countrySet, asnSet   bool
		ips                  []string
		onlyIPs              bool
	)
	usage := func() { fmt.Fprintf(stderr, commandUsage, defaultDir) }
	for i := 0; i < len(args); i++ {
		a := args[i]
		if onlyIPs || !strings.HasPrefix(a, "-") || a == "-" {
			ips = append(ips, a)
			continue
		}
		if a == "--" {
			onlyIPs = true
			continue
		}
		// -flag, --flag, -flag=value, --flag=value
		name, inline, hasInline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		value := func() (string, bool) {
			if hasInline {
				return inline, true
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			fmt.Fprintf(stderr, "geoip: flag %s needs a value\n", a)
			usage()
			return "", false
		}
		switch name {
		case "json":
			asJSON = true
			if hasInline {
				b, err := strconv.ParseBool(inline)
				if err != nil {
					fmt.Fprintf(stderr, "geoip: bad value for --json: %q\n", inline)
					return 2
				}
				asJSON = b
			}
		case "dir", "country", "asn":
			v, ok := value()
			if !ok {
				return 2
			}
			switch name {
			case "dir":
				dir = v
			case "country":
				countryPath, countrySet = v, true
			case "asn":
				asnPath, asnSet = v, true
			}
		case "h", "help":
			usage()
			return 0
		default:
			fmt.Fprintf(stderr, "geoip: unknown flag %s\n", a)
			usage()
			return 2
		}
	}
	if len(ips) == 0 {
		fmt.Fprintln(stderr, "geoip: no IP address given")
		usage()
		return 2
	}

	var (
		db  *DB
		err error
	)
	if !countrySet && !asnSet {
		db, err = Open(dir)
	} else {
		if !countrySet {
			countryPath = filepath.Join(dir, CountryFile)
		}
		if !asnSet {
			asnPath = filepath.Join(dir, ASNFile)
		}
		db, err = OpenFilesWithClasses(countryPath, asnPath, filepath.Join(dir, ClassesFile))
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		fmt.Fprintln(stderr, `geoip: run "make geodata" to build the default databases, or pass --dir/--country/--asn`)
		return 1
	}
	defer db.Close()

	status := 0
	results := make([]Result, 0, len(ips))
	for _, s := range ips {
		r, err := db.LookupString(s)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			status = 2
			continue
		}
		results = append(results, r)
	}

	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintf(stderr, "geoip: %v\n", err)
			return 1
		}
		return status
	}
	if len(results) == 0 {
		return status
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\tCOUNTRY\tASN\tAS ORG\tCLASS\tNOTE")
	for _, r := range results {
		country, asn, org, class, note := dash(r.Country), "-", dash(r.ASOrg), dash(r.Class), dash(r.ClassNote)
		if r.ASN != 0 {
			asn = "AS" + strconv.FormatUint(uint64(r.ASN), 10)
		}
		if r.Private {
			note = "private/non-public address: not looked up"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.IP, country, asn, org, class, note)
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return status
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	// Keep the table one line per address.
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}
