package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/geoip"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func tgz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func integrity(b []byte) string {
	h := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(h[:])
}

func countryMMDB(t *testing.T) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "geo-whois-asn-country"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"8.8.8.0/24", "2001:4860::/32"} {
		_, ipn, _ := net.ParseCIDR(n)
		if err := tree.Insert(ipn, mmdbtype.Map{"country_code": mmdbtype.String("US")}); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fakeRegistry serves fake versions of the two packages and swaps the
// pinned package variables for the test.
func fakeRegistry(t *testing.T, asnV4 string) (url string, hits *atomic.Int32) {
	t.Helper()
	cTGZ := tgz(t, map[string][]byte{
		"package/geo-whois-asn-country.mmdb": countryMMDB(t),
		"package/NRO_LICENSE":                []byte("NRO licence text"),
		"package/package.json":               []byte(`{}`),
	})
	aTGZ := tgz(t, map[string][]byte{
		"package/asn-ipv4.csv":       []byte(asnV4),
		"package/asn-ipv6.csv":       []byte("2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC\n"),
		"package/DBIP-LICENSE":       []byte("DB-IP licence text"),
		"package/ROUTEVIEWS-LICENSE": []byte("RouteViews licence text"),
	})
	hits = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case strings.HasSuffix(r.URL.Path, "/geo-whois-asn-country-mmdb/-/geo-whois-asn-country-mmdb-1.0.2026010100.tgz"):
			w.Write(cTGZ)
		case strings.HasSuffix(r.URL.Path, "/asn/-/asn-1.0.2026010100.tgz"):
			w.Write(aTGZ)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	oc, oa := countryPkg, asnPkg
	t.Cleanup(func() { countryPkg, asnPkg = oc, oa })
	countryPkg = pkg{"country", "@ip-location-db/geo-whois-asn-country-mmdb", "1.0.2026010100", integrity(cTGZ)}
	asnPkg = pkg{"asn", "@ip-location-db/asn", "1.0.2026010100", integrity(aTGZ)}
	return srv.URL, hits
}

const goodV4 = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n8.8.8.0,8.8.8.255,15169,Google LLC\n10.0.0.0,10.255.255.255,64512,Private\n"

func TestBuildEndToEnd(t *testing.T) {
	reg, hits := fakeRegistry(t, goodV4)
	out, cache := filepath.Join(t.TempDir(), "geoip"), t.TempDir()
	if err := build(context.Background(), out, cache, reg); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 {
		t.Errorf("%d downloads", hits.Load())
	}
	db, err := geoip.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := db.LookupString("1.0.0.1")
	if r.ASN != 13335 || r.ASOrg != "Cloudflare, Inc." {
		t.Errorf("1.0.0.1: %+v", r)
	}
	src := db.Sources()
	db.Close()
	if src[1].Type != "Farmwatch-ASN" || !strings.Contains(src[1].Description, "@ip-location-db/asn@1.0.2026010100") ||
		!src[1].BuildTime.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !strings.Contains(src[1].Attribution, "DB-IP") {
		t.Errorf("asn source: %+v", src[1])
	}
	lic, _ := os.ReadFile(filepath.Join(out, "LICENSE-DATA.txt"))
	for _, w := range []string{"NRO licence text", "DB-IP licence text", "RouteViews licence text", "db-ip.com"} {
		if !bytes.Contains(lic, []byte(w)) {
			t.Errorf("LICENSE-DATA.txt lacks %q", w)
		}
	}
	var man geoip.SourcesManifest
	b, _ := os.ReadFile(filepath.Join(out, geoip.SourcesFile))
	if err := json.Unmarshal(b, &man); err != nil || len(man.Packages) != 2 || man.Packages[1].Integrity != asnPkg.integrity || len(man.Files) != 2 {
		t.Errorf("SOURCES.json: %+v %v", man, err)
	}
	first, _ := os.ReadFile(filepath.Join(out, geoip.ASNFile))

	// Second run: served from the cache, same bytes.
	if err := build(context.Background(), out, cache, "http://127.0.0.1:9"); err != nil {
		t.Fatalf("offline rebuild: %v", err)
	}
	second, _ := os.ReadFile(filepath.Join(out, geoip.ASNFile))
	if hits.Load() != 2 || !bytes.Equal(first, second) {
		t.Errorf("rebuild: %d downloads, identical=%v", hits.Load(), bytes.Equal(first, second))
	}
	left, _ := filepath.Glob(filepath.Join(out, ".*"))
	if len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestBuildFailureKeepsOldFiles(t *testing.T) {
	out, cache := filepath.Join(t.TempDir(), "geoip"), t.TempDir()
	reg, _ := fakeRegistry(t, goodV4)
	if err := build(context.Background(), out, cache, reg); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(out, geoip.CountryFile))

	// A broken CSV in a new package version: the run fails, nothing changes.
	reg, _ = fakeRegistry(t, "8.8.8.0,8.8.8.255,notanumber,Google\n")
	err := build(context.Background(), out, t.TempDir(), reg)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("want CSV error, got %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(out, geoip.CountryFile))
	if !bytes.Equal(before, after) {
		t.Error("country.mmdb changed by a failed run")
	}
	left, _ := filepath.Glob(filepath.Join(out, ".*"))
	if len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}

	// Data that fails the self-check (8.8.8.8 not Google) is not installed.
	reg, _ = fakeRegistry(t, "8.8.8.0,8.8.8.255,64500,Someone Else\n")
	err = build(context.Background(), out, t.TempDir(), reg)
	if err == nil || !strings.Contains(err.Error(), "self-check") {
		t.Fatalf("want self-check error, got %v", err)
	}
}

func TestFetchIntegrityMismatch(t *testing.T) {
	reg, _ := fakeRegistry(t, goodV4)
	p := asnPkg
	p.integrity = integrity([]byte("something else"))
	cache := t.TempDir()
	_, err := fetch(context.Background(), p, cache, reg)
	if err == nil || !strings.Contains(err.Error(), "integrity mismatch") {
		t.Fatalf("got %v", err)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("rejected download left in cache: %v", ents)
	}
	// A corrupted cached copy is replaced by a fresh download.
	good, err := fetch(context.Background(), asnPkg, cache, reg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(good, []byte("corrupt"), 0o644)
	if _, err := fetch(context.Background(), asnPkg, cache, reg); err != nil {
		t.Fatalf("refetch after corrupt cache: %v", err)
	}
	if err := verifyFile(good, asnPkg.integrity); err != nil {
		t.Error(err)
	}
}

func TestPinnedIntegrity(t *testing.T) {
	for _, p := range []pkg{countryPkg, asnPkg} {
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p.integrity, "sha512-"))
		if err != nil || len(b) != sha512.Size || !strings.HasPrefix(p.integrity, "sha512-") {
			t.Errorf("%s: bad pinned integrity %q", p.name, p.integrity)
		}
		if _, err := versionEpoch(p.version); err != nil {
			t.Error(err)
		}
	}
	if got := asnPkg.url("https://registry.npmjs.org/"); got != "https://registry.npmjs.org/@ip-location-db/asn/-/asn-2.3.2026061719.tgz" {
		t.Errorf("url %s", got)
	}
}
