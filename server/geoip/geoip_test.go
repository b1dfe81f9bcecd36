package geoip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Fixture databases, written once by TestMain into fixtureDir:
//
//	iplocdb/   country.mmdb in the ip-location-db shape {country_code}
//	           + asn.mmdb {autonomous_system_number, autonomous_system_organization}
//	maxmind/   country.mmdb in the GeoIP2 shape {country:{iso_code}, registered_country:{iso_code}}
//	           + the same asn.mmdb
//	v4only.mmdb  an IPv4-only (ip_version 4) country tree
var fixtureDir string

var fixtureBuild = time.Date(2026, 6, 17, 19, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "geoip-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	if err := writeFixtures(dir); err != nil {
		fmt.Fprintln(os.Stderr, "writing fixtures:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type fixtureRecord struct {
	network string
	value   mmdbtype.Map
}

func writeMMDB(path string, opts mmdbwriter.Options, recs []fixtureRecord) error {
	opts.BuildEpoch = fixtureBuild.Unix()
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		return err
	}
	for _, r := range recs {
		_, n, err := net.ParseCIDR(r.network)
		if err != nil {
			return err
		}
		if err := tree.Insert(n, r.value); err != nil {
			return fmt.Errorf("%s: %w", r.network, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cc(code string) mmdbtype.Map { return mmdbtype.Map{"country_code": mmdbtype.String(code)} }

func iso(country, registered string) mmdbtype.Map {
	m := mmdbtype.Map{}
	if country != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(country),
			"names": mmdbtype.Map{"en": mmdbtype.String("name of " + country)}}
	}
	if registered != "" {
		m["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(registered)}
	}
	return m
}

func as(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(n),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

func writeFixtures(dir string) error {
	asnRecs := []fixtureRecord{
		{"1.2.3.0/24", as(16509, "Amazon.com, Inc.")},
		{"5.6.7.0/24", as(39351, "31173 Services AB")},
		{"9.9.9.0/24", as(64000, "Some Residential ISP")},
		{"2a01:4f8::/32", as(24940, "Hetzner Online GmbH")},
		{"2a00:1450::/32", as(15169, "Google LLC")},
	}
	asnOpts := mmdbwriter.Options{DatabaseType: "Farmwatch-ASN", Description: map[string]string{"en": "fixture ASN"}}
	for _, sub := range []string{"iplocdb", "maxmind"} {
		if err := writeMMDB(filepath.Join(dir, sub, ASNFile), asnOpts, asnRecs); err != nil {
			return err
		}
	}
	// ip-location-db shape: no description, like the real file.
	if err := writeMMDB(filepath.Join(dir, "iplocdb", CountryFile),
		mmdbwriter.Options{DatabaseType: "geo-whois-asn-country"},
		[]fixtureRecord{
			{"1.2.3.0/24", cc("DE")},
			{"5.6.7.0/24", cc("fr")}, // lower case in the file: normalised
			{"2a01:4f8::/32", cc("DE")},
			{"2a00:1450::/32", cc("IE")},
		}); err != nil {
		return err
	}
	if err := writeMMDB(filepath.Join(dir, "maxmind", CountryFile),
		mmdbwriter.Options{DatabaseType: "GeoLite2-Country", Description: map[string]string{"en": "fixture GeoLite2 Country"}, Languages: []string{"en"}},
		[]fixtureRecord{
			{"1.2.3.0/24", iso("US", "CA")},
			{"9.9.9.0/24", iso("", "CH")}, // registered_country fallback
			{"2a00:1450::/32", iso("IE", "US")},
		}); err != nil {
		return err
	}
	return writeMMDB(filepath.Join(dir, "v4only.mmdb"),
		mmdbwriter.Options{DatabaseType: "v4-country", Description: map[string]string{"en": "v4"}, IPVersion: 4},
		[]fixtureRecord{{"1.2.3.0/24", cc("NL")}})
}

func openFixture(t testing.TB, sub string) *DB {
	t.Helper()
	db, err := Open(filepath.Join(fixtureDir, sub))
	if err != nil {
		t.Fatalf("Open(%s): %v", sub, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLookupBothShapes(t *testing.T) {
	cases := []struct {
		sub, ip string
		want    Result
	}{
		{"iplocdb", "1.2.3.4", Result{IP: "1.2.3.4", Country: "DE", ASN: 16509, ASOrg: "Amazon.com, Inc.", Class: "hosting", ClassNote: "Amazon Web Services"}},
		{"iplocdb", "5.6.7.8", Result{IP: "5.6.7.8", Country: "FR", ASN: 39351, ASOrg: "31173 Services AB", Class: "vpn", ClassNote: "31173 Services AB (Mullvad VPN operator)"}},
		{"iplocdb", "2a01:4f8:1::1", Result{IP: "2a01:4f8:1::1", Country: "DE", ASN: 24940, ASOrg: "Hetzner Online GmbH", Class: "hosting", ClassNote: "Hetzner"}},
		{"iplocdb", "2a00:1450::1", Result{IP: "2a00:1450::1", Country: "IE", ASN: 15169, ASOrg: "Google LLC", Class: "hosting", ClassNote: "Google"}},
		{"iplocdb", "9.9.9.9", Result{IP: "9.9.9.9", ASN: 64000, ASOrg: "Some Residential ISP"}},
		{"iplocdb", "203.0.113.7", Result{IP: "203.0.113.7"}}, // not in any file
		{"maxmind", "1.2.3.4", Result{IP: "1.2.3.4", Country: "US", ASN: 16509, ASOrg: "Amazon.com, Inc.", Class: "hosting", ClassNote: "Amazon Web Services"}},
		{"maxmind", "9.9.9.9", Result{IP: "9.9.9.9", Country: "CH", ASN: 64000, ASOrg: "Some Residential ISP"}},
		{"maxmind", "2a00:1450:4001::5", Result{IP: "2a00:1450:4001::5", Country: "IE", ASN: 15169, ASOrg: "Google LLC", Class: "hosting", ClassNote: "Google"}},
	}
	for _, c := range cases {
		db := openFixture(t, c.sub)
		got, err := db.LookupString(c.ip)
		if err != nil {
			t.Fatalf("%s %s: %v", c.sub, c.ip, err)
		}
		if got != c.want {
			t.Errorf("%s %s:\n got %+v\nwant %+v", c.sub, c.ip, got, c.want)
		}
	}
}

func TestIPv4MappedAndZones(t *testing.T) {
	db := openFixture(t, "iplocdb")
	plain := db.Lookup(netip.MustParseAddr("1.2.3.4"))
	for _, s := range []string{"::ffff:1.2.3.4", "[::ffff:1.2.3.4]", " 1.2.3.4 ", "::ffff:102:304"} {
		got, err := db.LookupString(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got != plain {
			t.Errorf("%q: got %+v, want %+v", s, got, plain)
		}
	}
	mapped := netip.AddrFrom16(netip.MustParseAddr("1.2.3.4").As16())
	if !mapped.Is4In6() {
		t.Fatal("test setup: not a mapped address")
	}
	if got := db.Lookup(mapped); got != plain {
		t.Errorf("Lookup(%v) = %+v, want %+v", mapped, got, plain)
	}
	z, _ := db.LookupString("2a01:4f8::1%eth0")
	if z.IP != "2a01:4f8::1" || z.Country != "DE" {
		t.Errorf("zoned lookup: %+v", z)
	}
	if got := db.Lookup(netip.Addr{}); got != (Result{}) {
		t.Errorf("invalid Addr: %+v", got)
	}
}

func TestPrivateAddresses(t *testing.T) {
	db := openFixture(t, "iplocdb")
	for _, s := range []string{
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"100.64.0.1", "100.127.255.254", "169.254.10.10", "0.0.0.0", "0.1.2.3",
		"255.255.255.255", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1", "fc00::2",
		"ff02::1", "::ffff:192.168.0.1", "::ffff:127.0.0.1",
	} {
		r, err := db.LookupString(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !r.Private || r.Country != "" || r.ASN != 0 || r.Class != "" {
			t.Errorf("%s: want private with no data, got %+v", s, r)
		}
	}
	for _, s := range []string{"100.63.255.255", "100.128.0.0", "172.32.0.1", "1.2.3.4", "2a01:4f8::1"} {
		if r, _ := db.LookupString(s); r.Private {
			t.Errorf("%s: marked private", s)
		}
	}
}

func TestLookupStringErrors(t *testing.T) {
	db := openFixture(t, "iplocdb")
	for _, s := range []string{"", "bogus", "1.2.3", "1.2.3.4/24", "256.1.1.1", "example.com", "[1.2.3.4", "1.2.3.4:80"} {
		_, err := db.LookupString(s)
		if err == nil {
			t.Errorf("%q: no error", s)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) || !strings.Contains(err.Error(), "not an IP address") {
			t.Errorf("%q: unclear error %q", s, err)
		}
	}
}

func TestOpenFilesHalves(t *testing.T) {
	db, err := OpenFiles("", filepath.Join(fixtureDir, "iplocdb", ASNFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, _ := db.LookupString("1.2.3.4")
	if r.Country != "" || r.ASN != 16509 {
		t.Errorf("asn only: %+v", r)
	}
	if n := len(db.Sources()); n != 1 {
		t.Errorf("sources: %d", n)
	}

	db2, err := OpenFiles(filepath.Join(fixtureDir, "maxmind", CountryFile), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	r, _ = db2.LookupString("1.2.3.4")
	if r.Country != "US" || r.ASN != 0 || r.Class != "" {
		t.Errorf("country only: %+v", r)
	}

	db3, err := OpenFiles("", "")
	if err != nil {
		t.Fatal(err)
	}
	r, _ = db3.LookupString("1.2.3.4")
	if r != (Result{IP: "1.2.3.4"}) {
		t.Errorf("no files: %+v", r)
	}
	db3.Close()

	// An IPv4-only tree: IPv4 works, IPv6 is simply unknown.
	db4, err := OpenFiles(filepath.Join(fixtureDir, "v4only.mmdb"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db4.Close()
	if r, _ := db4.LookupString("::ffff:1.2.3.4"); r.Country != "NL" {
		t.Errorf("v4-only tree, mapped address: %+v", r)
	}
	if r, _ := db4.LookupString("2a00:1450::1"); r.Country != "" {
		t.Errorf("v4-only tree, IPv6: %+v", r)
	}
}

func TestSources(t *testing.T) {
	db := openFixture(t, "maxmind")
	src := db.Sources()
	if len(src) != 2 {
		t.Fatalf("got %d sources", len(src))
	}
	c, a := src[0], src[1]
	if c.Kind != "country" || a.Kind != "asn" {
		t.Fatalf("kinds %q %q", c.Kind, a.Kind)
	}
	if c.Type != "GeoLite2-Country" || c.Description != "fixture GeoLite2 Country" || !c.BuildTime.Equal(fixtureBuild) || c.Records == 0 {
		t.Errorf("country source: %+v", c)
	}
	if !strings.Contains(c.License, "GeoLite2") || !strings.Contains(c.Attribution, "MaxMind") {
		t.Errorf("GeoLite2 licence not recognised: %+v", c)
	}
	if a.Type != "Farmwatch-ASN" || a.Description != "fixture ASN" || a.Path != filepath.Join(fixtureDir, "maxmind", ASNFile) {
		t.Errorf("asn source: %+v", a)
	}

	// Licence and attribution come from the builder's SOURCES.json.
	dir := t.TempDir()
	copyFile(t, filepath.Join(fixtureDir, "iplocdb", CountryFile), filepath.Join(dir, CountryFile))
	copyFile(t, filepath.Join(fixtureDir, "iplocdb", ASNFile), filepath.Join(dir, ASNFile))
	man := SourcesManifest{Packages: []SourcesPackage{
		{Kind: "country", License: "CC0", Attribution: "NRO"},
		{Kind: "asn", License: "CC BY 4.0", Attribution: "DB-IP"},
	}}
	b, _ := json.Marshal(man)
	if err := os.WriteFile(filepath.Join(dir, SourcesFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	s := db2.Sources()
	if s[0].License != "CC0" || s[0].Attribution != "NRO" || s[1].License != "CC BY 4.0" || s[1].Attribution != "DB-IP" {
		t.Errorf("sources from manifest: %+v", s)
	}
	if s[0].Description != "" || s[0].Type != "geo-whois-asn-country" {
		t.Errorf("country without description: %+v", s[0])
	}
}

func copyFile(t testing.TB, from, to string) []byte {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenErrors(t *testing.T) {
	good := filepath.Join(fixtureDir, "iplocdb")
	goodCountry, _ := os.ReadFile(filepath.Join(good, CountryFile))

	// Missing files: the message names the file.
	empty := t.TempDir()
	_, err := Open(empty)
	wantErr(t, err, filepath.Join(empty, CountryFile), "file not found")
	copyFile(t, filepath.Join(good, CountryFile), filepath.Join(empty, CountryFile))
	_, err = Open(empty)
	wantErr(t, err, filepath.Join(empty, ASNFile), "file not found")
	_, err = OpenFiles(filepath.Join(empty, "nope.mmdb"), "")
	wantErr(t, err, filepath.Join(empty, "nope.mmdb"), "file not found")

	corrupt := map[string][]byte{
		"empty":     {},
		"not-mmdb":  []byte("this is not a MaxMind database\n"),
		"truncated": goodCountry[:len(goodCountry)/2],
		"tail-cut":  goodCountry[:len(goodCountry)-20], // metadata marker kept, metadata cut
	}
	// Damaged search tree: metadata intact, tree bytes overwritten.
	damaged := bytes.Clone(goodCountry)
	for i := 0; i < 64 && i < len(damaged)/2; i++ {
		damaged[i] = 0xff
	}
	corrupt["damaged-tree"] = damaged
	for name, data := range corrupt {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, CountryFile)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			copyFile(t, filepath.Join(good, ASNFile), filepath.Join(dir, ASNFile))
			_, err := Open(dir)
			wantErr(t, err, p, "country database")
			if err != nil && !strings.Contains(err.Error(), "MaxMind DB") && !strings.Contains(err.Error(), "empty") {
				t.Errorf("error does not say what is wrong: %v", err)
			}
		})
	}

	// A directory where a file should be.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, CountryFile), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(good, ASNFile), filepath.Join(dir, ASNFile))
	_, err = Open(dir)
	wantErr(t, err, filepath.Join(dir, CountryFile), "directory")

	// Swapped files.
	_, err = OpenFiles(filepath.Join(good, ASNFile), "")
	wantErr(t, err, filepath.Join(good, ASNFile), "swapped")
	_, err = OpenFiles("", filepath.Join(fixtureDir, "maxmind", CountryFile))
	wantErr(t, err, filepath.Join(fixtureDir, "maxmind", CountryFile), "swapped")
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestEmbeddedClasses(t *testing.T) {
	entries := EmbeddedClasses()
	if len(entries) < 30 {
		t.Fatalf("only %d embedded entries", len(entries))
	}
	byASN := map[uint32]ClassEntry{}
	for _, e := range entries {
		if e.Source == "" {
			t.Errorf("AS%d has no source", e.ASN)
		}
		if e.Class == ClassNone {
			t.Errorf("AS%d: class none in the embedded file", e.ASN)
		}
		byASN[e.ASN] = e
	}
	for asn, class := range map[uint32]string{
		16509: "hosting", 14618: "hosting", 396982: "hosting", 8075: "hosting", 14061: "hosting",
		16276: "hosting", 24940: "hosting", 63949: "hosting", 20473: "hosting", 9009: "hosting",
		60068: "hosting", 60781: "hosting", 16265: "hosting", 51167: "hosting", 31898: "hosting",
		45102: "hosting", 132203: "hosting", 216025: "vpn",
	} {
		if byASN[asn].Class != class {
			t.Errorf("AS%d: class %q, want %q", asn, byASN[asn].Class, class)
		}
	}
	var f ClassFile
	if err := json.Unmarshal(embeddedClasses, &f); err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(f.Notes, " ")
	if !strings.Contains(notes, "Astrill") {
		t.Error("notes do not say what is known about Astrill")
	}
}

func TestParseClassesValidation(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"unknown class": {`{"classes":[{"asn":1,"class":"hosting","name":"a"},{"asn":2,"class":"cloud","name":"b"}]}`, `entry 1 (asn 2): unknown class "cloud"`},
		"duplicate":     {`{"classes":[{"asn":7,"class":"vpn","name":"a"},{"asn":8,"class":"vpn","name":"b"},{"asn":7,"class":"hosting","name":"c"}]}`, "entry 2: duplicate asn 7 (also entry 0)"},
		"asn zero":      {`[{"asn":0,"class":"vpn","name":"a"}]`, "entry 0: asn is missing or 0"},
		"asn missing":   {`[{"asn":5,"class":"vpn","name":"a"},{"class":"vpn","name":"b"}]`, "entry 1: asn is missing or 0"},
		"no name":       {`[{"asn":5,"class":"vpn","name":" "}]`, "entry 0 (asn 5): name is empty"},
		"unknown field": {`[{"asn":5,"class":"vpn","name":"x","klass":"y"}]`, `unknown field "klass"`},
		"negative asn":  {`[{"asn":-5,"class":"vpn","name":"x"}]`, "invalid JSON"},
		"huge asn":      {`[{"asn":4294967296,"class":"vpn","name":"x"}]`, "invalid JSON"},
		"trailing":      {`[] []`, "trailing data"},
		"not json":      {`asn,class`, "invalid JSON"},
	}
	for name, c := range cases {
		_, err := ParseClasses([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, c.want)
		}
	}
	f, err := ParseClasses([]byte(`{"notes":["n"],"classes":[{"asn":4200000000,"class":"mobile","name":"m","source":"s"}]}`))
	if err != nil || len(f.Classes) != 1 || f.Classes[0].ASN != 4200000000 {
		t.Errorf("valid file: %+v %v", f, err)
	}
}

func TestCustomerClasses(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(fixtureDir, "iplocdb", CountryFile), filepath.Join(dir, CountryFile))
	copyFile(t, filepath.Join(fixtureDir, "iplocdb", ASNFile), filepath.Join(dir, ASNFile))
	custom := `{"classes":[
		{"asn":64000,"class":"mobile","name":"Our carrier","source":"customer"},
		{"asn":16509,"class":"vpn","name":"Corporate VPN on AWS"},
		{"asn":24940,"class":"none"}
	]}`
	if err := os.WriteFile(filepath.Join(dir, ClassesFile), []byte(custom), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for ip, want := range map[string][2]string{
		"9.9.9.9":     {"mobile", "Our carrier"},                           // added
		"1.2.3.4":     {"vpn", "Corporate VPN on AWS"},                     // overridden
		"2a01:4f8::1": {"", ""},                                            // removed
		"5.6.7.8":     {"vpn", "31173 Services AB (Mullvad VPN operator)"}, // embedded kept
	} {
		r, _ := db.LookupString(ip)
		if r.Class != want[0] || r.ClassNote != want[1] {
			t.Errorf("%s: class %q note %q, want %v", ip, r.Class, r.ClassNote, want)
		}
	}

	if err := os.WriteFile(filepath.Join(dir, ClassesFile), []byte(`[{"asn":1,"class":"evil","name":"x"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	wantErr(t, err, filepath.Join(dir, ClassesFile), `entry 0 (asn 1): unknown class "evil"`)
}

func TestConcurrentLookupAndClose(t *testing.T) {
	db, err := Open(filepath.Join(fixtureDir, "iplocdb"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				r := db.Lookup(netip.AddrFrom4([4]byte{1, 2, 3, byte(i)}))
				if r.ASN != 0 && r.ASN != 16509 {
					t.Errorf("bad result %+v", r)
					return
				}
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := db.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if r, _ := db.LookupString("1.2.3.4"); r != (Result{IP: "1.2.3.4"}) {
		t.Errorf("lookup after Close: %+v", r)
	}
}

// realDir is the data built by `go run ./server/geoip/build -out var/geoip`
// (repository root), or $FARMWATCH_GEOIP_DIR.
func realDir() string {
	if d := os.Getenv("FARMWATCH_GEOIP_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "var", "geoip")
}

func openReal(t testing.TB) *DB {
	t.Helper()
	dir := realDir()
	if _, err := os.Stat(filepath.Join(dir, CountryFile)); err != nil {
		t.Skipf("no built geoip data in %s (build it with `go run ./server/geoip/build -out var/geoip`): %v", dir, err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestRealData(t *testing.T) {
	db := openReal(t)
	get := func(s string) Result {
		r, err := db.LookupString(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := get("175.45.176.1"); r.Country != "KP" {
		t.Errorf("175.45.176.1: %+v, want KP", r)
	}
	if r := get("8.8.8.8"); r.Country != "US" || r.ASN != 15169 {
		t.Errorf("8.8.8.8: %+v, want US AS15169", r)
	}
	if r := get("1.1.1.1"); r.Country != "AU" && r.ASN != 13335 {
		t.Errorf("1.1.1.1: %+v, want AU or AS13335", r)
	}
	if r := get("2a00:1450::1"); r.Country != "IE" {
		t.Errorf("2a00:1450::1: %+v, want IE", r)
	}
	if r := get("::ffff:8.8.8.8"); r.Country != "US" || r.ASN != 15169 {
		t.Errorf("::ffff:8.8.8.8: %+v", r)
	}
	for _, s := range db.Sources() {
		if s.License == "" || s.Attribution == "" || s.BuildTime.IsZero() || s.Records == 0 {
			t.Errorf("incomplete source %+v", s)
		}
	}
	// The embedded classes apply to the real data.
	if r := get("8.8.8.8"); r.Class != ClassHosting {
		t.Errorf("8.8.8.8 class %q", r.Class)
	}
}

func FuzzLookupString(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::ffff:1.2.3.4", "2a01:4f8::1%eth0", "[::1]", "", "bogus", "10.0.0.1", "1.2.3.4/24", "::", "ff02::1"} {
		f.Add(s)
	}
	db, err := Open(filepath.Join(fixtureDir, "iplocdb"))
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	f.Fuzz(func(t *testing.T, s string) {
		r, err := db.LookupString(s)
		if err != nil {
			if r != (Result{}) {
				t.Fatalf("%q: error %v with non-zero result %+v", s, err, r)
			}
			return
		}
		ip, perr := netip.ParseAddr(r.IP)
		if perr != nil {
			t.Fatalf("%q: result IP %q does not parse: %v", s, r.IP, perr)
		}
		if ip.Is4In6() || ip.Zone() != "" {
			t.Fatalf("%q: result IP %q not unmapped/unzoned", s, r.IP)
		}
		if r.Private && (r.Country != "" || r.ASN != 0) {
			t.Fatalf("%q: private with data %+v", s, r)
		}
		if r.Class != "" && r.ASN == 0 {
			t.Fatalf("%q: class without ASN %+v", s, r)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	bench := func(b *testing.B, db *DB, ips []netip.Addr) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			_ = db.Lookup(ips[i%len(ips)])
		}
	}
	ips := func(n int) []netip.Addr {
		out := make([]netip.Addr, n)
		x := uint32(2463534242)
		for i := range out {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			out[i] = netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
		}
		return out
	}(4096)
	b.Run("fixture", func(b *testing.B) {
		bench(b, openFixture(b, "iplocdb"), []netip.Addr{netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("2a00:1450::1")})
	})
	b.Run("real-random-v4", func(b *testing.B) {
		bench(b, openReal(b), ips)
	})
	b.Run("real-random-v4-parallel", func(b *testing.B) {
		db := openReal(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_ = db.Lookup(ips[i%len(ips)])
				i++
			}
		})
	})
}

// BenchmarkOpenReal measures Open on the built data, dominated by the
// integrity walk (Reader.Verify) of both files.
func BenchmarkOpenReal(b *testing.B) {
	openReal(b) // skips when absent
	for b.Loop() {
		db, err := Open(realDir())
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}
