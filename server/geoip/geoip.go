// Package geoip does offline IP → country / autonomous system lookups for
// the collector, reading MaxMind DB (.mmdb) files.
//
// Two files are used, normally built by `go run ./server/geoip/build`
// (see that command for the data sources and licences):
//
//   - country.mmdb: records of the ip-location-db shape {country_code} or of
//     the MaxMind GeoLite2/GeoIP2 Country/City shape {country:{iso_code}},
//     falling back to registered_country.iso_code.
//   - asn.mmdb: records {autonomous_system_number, autonomous_system_organization},
//     the same field names as GeoLite2-ASN, so a customer's GeoLite2-ASN.mmdb
//     (or GeoIP2-ISP) works unchanged.
//
// ASN classes (hosting / vpn / mobile) come from the embedded
// asn-classes.json, optionally extended or overridden by an asn-classes.json
// in the database directory.
package geoip

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// File names inside a geoip directory.
const (
	CountryFile = "country.mmdb"
	ASNFile     = "asn.mmdb"
	ClassesFile = "asn-classes.json"
)

// Result is the answer for one IP address. The JSON keys are part of the
// collector's CLI and API output.
type Result struct {
	IP        string `json:"ip"`
	Country   string `json:"country"`              // ISO 3166-1 alpha-2, "" when unknown
	ASN       uint32 `json:"asn"`                  // 0 when unknown
	ASOrg     string `json:"as_org,omitempty"`     // organisation of the AS
	Class     string `json:"class,omitempty"`      // "hosting", "vpn", "mobile" or ""
	ClassNote string `json:"class_note,omitempty"` // e.g. provider name of the class entry
	Private   bool   `json:"private,omitempty"`    // loopback/private/CGNAT/link-local/ULA: not looked up
}

// Source describes one loaded database file, for "about"/attribution pages.
type Source struct {
	Kind        string // "country" or "asn"
	Path        string
	Description string // mmdb metadata description (English, else any)
	License     string // from the LICENSE-DATA.txt / SOURCES.json next to the file, when present
	Attribution string // ditto
	BuildTime   time.Time
	Records     uint   // search-tree node count (the mmdb metadata's node_count)
	Type        string // mmdb metadata database_type
}

// DB holds the opened databases. It is safe for concurrent use; Close waits
// for lookups in progress, and lookups after Close return unknown results.
type DB struct {
	mu      sync.RWMutex
	country *maxminddb.Reader
	asn     *maxminddb.Reader
	classes map[uint32]ClassEntry
	sources []Source
}

// Open opens dir/country.mmdb and dir/asn.mmdb (both required) and, when
// present, dir/asn-classes.json, whose entries add to or override the
// embedded ASN classes.
func Open(dir string) (*DB, error) {
	cp := filepath.Join(dir, CountryFile)
	ap := filepath.Join(dir, ASNFile)
	for _, p := range []string{cp, ap} {
		if _, err := os.Stat(p); err != nil {
			return nil, fileError(kindOf(p), p, err)
		}
	}
	return open(cp, ap, filepath.Join(dir, ClassesFile))
}

// OpenFiles opens MaxMind-format files given by path (e.g. a customer's own
// GeoIP2-Country.mmdb and GeoLite2-ASN.mmdb). Either path may be "": that
// half of every Result is then unknown. Only the embedded ASN classes are used.
func OpenFiles(countryPath, asnPath string) (*DB, error) {
	return open(countryPath, asnPath, "")
}

// OpenFilesWithClasses is OpenFiles plus a customer ASN class file
// (asn-classes.json format); a missing classesPath is not an error.
func OpenFilesWithClasses(countryPath, asnPath, classesPath string) (*DB, error) {
	return open(countryPath, asnPath, classesPath)
}

func kindOf(path string) string {
	if filepath.Base(path) == ASNFile {
		return "asn"
	}
	return "country"
}

func open(countryPath, asnPath, classesPath string) (*DB, error) {
	classes, err := loadClasses(classesPath)
	if err != nil {
		return nil, err
	}
	d := &DB{classes: classes}
	if countryPath != "" {
		r, src, err := openReader("country", countryPath)
		if err != nil {
			return nil, err
		}
		d.country = r
		d.sources = append(d.sources, src)
	}
	if asnPath != "" {
		r, src, err := openReader("asn", asnPath)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.asn = r
		d.sources = append(d.sources, src)
	}
	return d, nil
}

// fileError wraps an open error so that it names the file and its role.
func fileError(kind, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("geoip: %s database %s: file not found", kind, path)
	default:
		return fmt.Errorf("geoip: %s database %s: %w", kind, path, err)
	}
}

func openReader(kind, path string) (*maxminddb.Reader, Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, Source{}, fileError(kind, path, err)
	}
	if st.IsDir() {
		return nil, Source{}, fmt.Errorf("geoip: %s database %s: is a directory, not a .mmdb file", kind, path)
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, Source{}, fmt.Errorf("geoip: %s database %s: not a valid MaxMind DB file (corrupt or truncated?): %w", kind, path, err)
	}
	if err := verify(r); err != nil {
		r.Close()
		return nil, Source{}, fmt.Errorf("geoip: %s database %s: corrupt MaxMind DB file: %w", kind, path, err)
	}
	md := r.Metadata
	lt := strings.ToLower(md.DatabaseType)
	looksASN := strings.Contains(lt, "asn") || strings.Contains(lt, "isp")
	looksGeo := strings.Contains(lt, "country") || strings.Contains(lt, "city")
	if kind == "country" && looksASN && !looksGeo {
		r.Close()
		return nil, Source{}, fmt.Errorf("geoip: country database %s: has database type %q, which is an ASN database (swapped files?)", path, md.DatabaseType)
	}
	if kind == "asn" && looksGeo && !looksASN {
		r.Close()
		return nil, Source{}, fmt.Errorf("geoip: asn database %s: has database type %q, which is a country/city database (swapped files?)", path, md.DatabaseType)
	}
	desc := md.Description["en"]
	if desc == "" {
		for _, v := range md.Description {
			desc = v
			break
		}
	}
	src := Source{
		Kind:        kind,
		Path:        path,
		Description: desc,
		Type:        md.DatabaseType,
		BuildTime:   md.BuildTime().UTC(),
		Records:     md.NodeCount,
	}
	src.License, src.Attribution = licenceFor(filepath.Dir(path), kind, md.DatabaseType)
	return r, src, nil
}

// verify walks the search tree and data section once, catching corruption
// that the metadata check in maxminddb.Open cannot, so that lookups never
// run over a damaged file. Reader.Verify also insists on a non-empty
// description and database type, which real files (ip-location-db's) lack:
// those two cosmetic fields are filled with placeholders for the check only.
// This runs before the reader is shared, so touching Metadata is safe.
func verify(r *maxminddb.Reader) error {
	saved := r.Metadata
	if len(r.Metadata.Description) == 0 {
		r.Metadata.Description = map[string]string{"en": "-"}
	}
	if r.Metadata.DatabaseType == "" {
		r.Metadata.DatabaseType = "-"
	}
	err := r.Verify()
	r.Metadata = saved
	return err
}

// Close releases the databases. It is safe to call more than once.
func (d *DB) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	if d.country != nil {
		errs = append(errs, d.country.Close())
		d.country = nil
	}
	if d.asn != nil {
		errs = append(errs, d.asn.Close())
		d.asn = nil
	}
	return errors.Join(errs...)
}

// Sources describes the loaded files (a copy).
func (d *DB) Sources() []Source {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return append([]Source(nil), d.sources...)
}

type countryRecord struct {
	CountryCode string `maxminddb:"country_code"`
	Country     struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// nonPublic reports addresses that geolocation databases do not describe:
// loopback, RFC 1918 / ULA private, CGNAT, link-local, unspecified,
// multicast and the IPv4 "this network" and broadcast addresses.
func nonPublic(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	if ip.Is4() {
		b := ip.As4()
		if b[0] == 0 || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || cgnat.Contains(ip) {
			return true
		}
	}
	return false
}

// Lookup returns what the databases know about ip. IPv4-mapped IPv6
// addresses (::ffff:a.b.c.d) are looked up as IPv4; zones are ignored.
// Unknown fields are left empty; an invalid netip.Addr gives a zero Result.
func (d *DB) Lookup(ip netip.Addr) Result {
	if !ip.IsValid() {
		return Result{}
	}
	ip = ip.Unmap().WithZone("")
	res := Result{IP: ip.String()}
	if nonPublic(ip) {
		res.Private = true
		return res
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.country != nil {
		var rec countryRecord
		if err := d.country.Lookup(ip).Decode(&rec); err == nil {
			switch {
			case rec.CountryCode != "":
				res.Country = rec.CountryCode
			case rec.Country.ISOCode != "":
				res.Country = rec.Country.ISOCode
			default:
				res.Country = rec.RegisteredCountry.ISOCode
			}
			res.Country = strings.ToUpper(res.Country)
		}
	}
	if d.asn != nil {
		var rec asnRecord
		if err := d.asn.Lookup(ip).Decode(&rec); err == nil {
			res.ASN = rec.Number
			res.ASOrg = rec.Org
		}
	}
	if res.ASN != 0 {
		if c, ok := d.classes[res.ASN]; ok {
			res.Class = c.Class
			res.ClassNote = c.Name
		}
	}
	return res
}

// LookupString parses s (IPv4, IPv6, optionally with a zone or in
// brackets) and looks it up. It fails only when s is not an IP address.
func (d *DB) LookupString(s string) (Result, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && t[0] == '[' && t[len(t)-1] == ']' {
		t = t[1 : len(t)-1]
	}
	ip, err := netip.ParseAddr(t)
	if err != nil {
		return Result{}, fmt.Errorf("geoip: %q is not an IP address", s)
	}
	return d.Lookup(ip), nil
}
