// Command build fetches the pinned ip-location-db npm packages and builds
// the collector's offline geolocation data:
//
//	go run ./server/geoip/build -out var/geoip [-cache DIR] [-registry URL]
//
// Outputs in OUT: country.mmdb (copied from
// @ip-location-db/geo-whois-asn-country-mmdb, records {country_code}),
// asn.mmdb (converted from the @ip-location-db/asn CSVs with mmdbwriter,
// records {autonomous_system_number, autonomous_system_organization},
// database type "Farmwatch-ASN"), LICENSE-DATA.txt and SOURCES.json.
//
// Tarballs are fetched from the npm registry over HTTPS (proxy settings are
// taken from HTTPS_PROXY/NO_PROXY), checked against the sha512 integrity
// values pinned below and cached (default: os.UserCacheDir()/farmwatch/geoip),
// so a second run needs no network. Every output is written to a temporary
// file, checked, and renamed into place only when all outputs are ready: an
// interrupted or failed run leaves the previous files untouched.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/server/geoip"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// pkg is one pinned npm package. Integrity values are from
// `npm view <name>@<version> dist.integrity`.
type pkg struct {
	kind, name, version, integrity string
}

var (
	countryPkg = pkg{
		kind:      "country",
		name:      "@ip-location-db/geo-whois-asn-country-mmdb",
		version:   "2.3.2026061719",
		integrity: "sha512-xemBDNQl4mCYDuVbqe3jKGKsVDykZGkfvebhtOh/3VGLadq8vsp7t7ontpMUt3hH7sAGT0eLDyJ99SV+0waxZg==",
	}
	asnPkg = pkg{
		kind:      "asn",
		name:      "@ip-location-db/asn",
		version:   "2.3.2026061719",
		integrity: "sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==",
	}
)

const (
	countryMember = "package/geo-whois-asn-country.mmdb" // combined IPv4+IPv6
	asnDBType     = "Farmwatch-ASN"
	countryLic    = "CC0-1.0 (package); source data: NRO/RIR statistics, CC BY 4.0"
	countryAttr   = "Country data: ip-location-db geo-whois-asn-country (https://github.com/sapics/ip-location-db), from GeoFeed, RIR WHOIS and RIR ASN data. RIR statistics data by the Number Resource Organization (https://www.nro.net), CC BY 4.0."
	asnLic        = "CC BY 4.0 (RouteViews, DB-IP, NRO)"
	asnAttr       = "ASN data: ip-location-db asn (https://github.com/sapics/ip-location-db), built from RouteViews (https://www.routeviews.org), RIR data by the NRO (https://www.nro.net) and DB-IP.com IP to ASN Lite (IP Geolocation by DB-IP, https://db-ip.com), all CC BY 4.0."
)

func (p pkg) tarballName() string { return path.Base(p.name) + "-" + p.version + ".tgz" }

func (p pkg) url(registry string) string {
	return strings.TrimRight(registry, "/") + "/" + p.name + "/-/" + p.tarballName()
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("geoip-build", flag.ContinueOnError)
	out := fs.String("out", "var/geoip", "output directory")
	cache := fs.String("cache", "", "tarball cache directory (default: os.UserCacheDir()/farmwatch/geoip)")
	registry := fs.String("registry", "https://registry.npmjs.org", "npm registry base URL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cache == "" {
		ucd, err := os.UserCacheDir()
		if err != nil {
			fmt.Fprintf(os.Stderr, "geoip-build: no user cache dir (%v); pass -cache DIR\n", err)
			return 1
		}
		*cache = filepath.Join(ucd, "farmwatch", "geoip")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	if err := build(ctx, *out, *cache, *registry); err != nil {
		fmt.Fprintf(os.Stderr, "geoip-build: %v\n", err)
		return 1
	}
	fmt.Printf("geoip-build: done in %s\n", time.Since(start).Round(time.Millisecond))
	return 0
}

// staged is an output written to a temp file, waiting for its rename.
type staged struct{ tmp, final string }

func build(ctx context.Context, out, cacheDir, registry string) (err error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// Temp files left by a killed run (SIGKILL, power loss).
	if old, _ := filepath.Glob(filepath.Join(out, ".*.tmp-*")); len(old) > 0 {
		for _, p := range old {
			os.Remove(p)
		}
	}
	var stage []staged
	defer func() { // on failure, remove the temp files; old outputs stay
		if err != nil {
			for _, s := range stage {
				os.Remove(s.tmp)
			}
		}
	}()
	newTemp := func(final string) (*os.File, error) {
		f, err := os.CreateTemp(out, "."+filepath.Base(final)+".tmp-*")
		if err != nil {
			return nil, err
		}
		stage = append(stage, staged{f.Name(), final})
		return f, nil
	}

	cTGZ, err := fetch(ctx, countryPkg, cacheDir, registry)
	if err != nil {
		return err
	}
	aTGZ, err := fetch(ctx, asnPkg, cacheDir, registry)
	if err != nil {
		return err
	}

	licences := map[string][]byte{} // "pkg: file" → text

	// country.mmdb: copy the combined mmdb out of the tarball.
	t0 := time.Now()
	cf, err := newTemp(filepath.Join(out, geoip.CountryFile))
	if err != nil {
		return err
	}
	found := false
	err = walkTar(cTGZ, func(name string, r io.Reader) error {
		switch {
		case name == countryMember:
			found = true
			_, err := io.Copy(cf, r)
			return err
		case isLicenceFile(name):
			b, err := io.ReadAll(io.LimitReader(r, 1<<20))
			licences[countryPkg.name+": "+path.Base(name)] = b
			return err
		}
		return nil
	})
	if err == nil && !found {
		err = fmt.Errorf("%s: %s not in tarball", countryPkg.tarballName(), countryMember)
	}
	if err := closeSync(cf, err); err != nil {
		return fmt.Errorf("country.mmdb: %w", err)
	}
	fmt.Printf("geoip-build: country.mmdb extracted in %s\n", time.Since(t0).Round(time.Millisecond))

	// asn.mmdb: stream the CSVs into an mmdbwriter tree.
	t0 = time.Now()
	buildEpoch, err := versionEpoch(asnPkg.version)
	if err != nil {
		return err
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: asnDBType,
		Description: map[string]string{
			"en": "Farmwatch IP to ASN, converted from npm " + asnPkg.name + "@" + asnPkg.version +
				" (RouteViews, NRO/RIR and DB-IP.com IP to ASN Lite data, CC BY 4.0)",
		},
		BuildEpoch:   buildEpoch,
		RecordSize:   24,
		KeyGenerator: asnKeys{},
	})
	if err != nil {
		return err
	}
	values := map[asnValue]mmdbtype.Map{}
	var stats csvStats
	err = walkTar(aTGZ, func(name string, r io.Reader) error {
		base := path.Base(name)
		switch {
		case base == "asn-ipv4.csv" || base == "asn-ipv6.csv":
			return insertCSV(ctx, tree, values, base, r, &stats)
		case isLicenceFile(name):
			b, err := io.ReadAll(io.LimitReader(r, 1<<20))
			licences[asnPkg.name+": "+base] = b
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("asn: %w", err)
	}
	if stats.files != 2 {
		return fmt.Errorf("asn: expected asn-ipv4.csv and asn-ipv6.csv in %s, found %d", asnPkg.tarballName(), stats.files)
	}
	af, err := newTemp(filepath.Join(out, geoip.ASNFile))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(af, 1<<20)
	_, err = tree.WriteTo(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err := closeSync(af, err); err != nil {
		return fmt.Errorf("asn.mmdb: %w", err)
	}
	tree, values = nil, nil
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("geoip-build: asn.mmdb built in %s: %d rows (%d v4, %d v6), %d distinct AS records, %d rows skipped (reserved/aliased ranges); Go runtime memory %d MiB\n",
		time.Since(t0).Round(time.Millisecond), stats.v4+stats.v6, stats.v4, stats.v6, stats.values, stats.skipped, ms.Sys>>20)

	// Check the staged databases before anything is renamed into place.
	if err := check(stage[0].tmp, stage[1].tmp); err != nil {
		return fmt.Errorf("built data failed its self-check: %w", err)
	}

	// Hash the databases for SOURCES.json.
	files := map[string]string{}
	for _, s := range stage {
		h, err := sha256File(s.tmp)
		if err != nil {
			return err
		}
		files[filepath.Base(s.final)] = h
	}

	lf, err := newTemp(filepath.Join(out, "LICENSE-DATA.txt"))
	if err != nil {
		return err
	}
	_, err = lf.Write(licenceText(licences))
	if err := closeSync(lf, err); err != nil {
		return err
	}

	man := geoip.SourcesManifest{
		GeneratedBy: "go run ./server/geoip/build",
		Files:       files,
	}
	for _, p := range []struct {
		pkg
		file, lic, attr string
	}{
		{countryPkg, geoip.CountryFile, countryLic, countryAttr},
		{asnPkg, geoip.ASNFile, asnLic, asnAttr},
	} {
		man.Packages = append(man.Packages, geoip.SourcesPackage{
			Kind: p.kind, File: p.file, Package: p.name, Version: p.version,
			Integrity: p.integrity, Tarball: p.url("https://registry.npmjs.org"),
			License: p.lic, Attribution: p.attr,
		})
	}
	mb, _ := json.MarshalIndent(man, "", "  ")
	sf, err := newTemp(filepath.Join(out, geoip.SourcesFile))
	if err != nil {
		return err
	}
	_, err = sf.Write(append(mb, '\n'))
	if err := closeSync(sf, err); err != nil {
		return err
	}

	if err := ctx.Err(); err != nil {
		return err
	}
	for _, s := range stage {
		if err := os.Chmod(s.tmp, 0o644); err != nil {
			return err
		}
	}
	// All outputs are complete: rename them into place.
	for i, s := range stage {
		if err := os.Rename(s.tmp, s.final); err != nil {
			for _, r := range stage[i+1:] {
				os.Remove(r.tmp)
			}
			return fmt.Errorf("installing %s: %w", s.final, err)
		}
	}
	stage = nil
	for _, n := range []string{geoip.CountryFile, geoip.ASNFile, "LICENSE-DATA.txt", geoip.SourcesFile} {
		if st, err := os.Stat(filepath.Join(out, n)); err == nil {
			fmt.Printf("geoip-build: %-18s %10d bytes\n", n, st.Size())
		}
	}
	return nil
}

func closeSync(f *os.File, err error) error {
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// versionEpoch turns an ip-location-db version "2.3.YYYYMMDDHH" into the
// data's timestamp, so that rebuilding the same version gives the same file.
func versionEpoch(v string) (int64, error) {
	i := strings.LastIndexByte(v, '.')
	t, err := time.Parse("2006010215", v[i+1:])
	if err != nil {
		return 0, fmt.Errorf("cannot read a date from version %q: %w", v, err)
	}
	return t.Unix(), nil
}

func isLicenceFile(name string) bool {
	base := path.Base(name)
	return strings.HasSuffix(base, "LICENSE") || base == "MODIFICATIONS"
}

func licenceText(texts map[string][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("Farmwatch offline IP geolocation data - licences and attribution\n")
	b.WriteString("==================================================================\n\n")
	b.WriteString("country.mmdb is " + countryPkg.name + "@" + countryPkg.version + " (" + path.Base(countryMember) + "), unchanged.\n")
	b.WriteString("  Licence: " + countryLic + "\n  Attribution: " + countryAttr + "\n\n")
	b.WriteString("asn.mmdb is converted from " + asnPkg.name + "@" + asnPkg.version + " (asn-ipv4.csv, asn-ipv6.csv)\n")
	b.WriteString("into MaxMind DB format by Farmwatch (records autonomous_system_number and\nautonomous_system_organization; no other change).\n")
	b.WriteString("  Licence: " + asnLic + "\n  Attribution: " + asnAttr + "\n\n")
	b.WriteString("Where results are shown in a web page, DB-IP asks for the link\n  <a href='https://db-ip.com'>IP Geolocation by DB-IP</a>\n\n")
	b.WriteString("Licence files shipped in the packages follow.\n")
	keys := make([]string, 0, len(texts))
	for k := range texts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n----- %s -----\n%s\n", k, bytes.TrimSpace(texts[k]))
	}
	return b.Bytes()
}

// fetch returns the path of the verified tarball for p, downloading it into
// cacheDir when it is not cached (or the cached copy does not verify).
func fetch(ctx context.Context, p pkg, cacheDir, registry string) (string, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(cacheDir, strings.ReplaceAll(strings.TrimPrefix(p.name, "@"), "/", "__")+"-"+p.version+".tgz")
	if err := verifyFile(dst, p.integrity); err == nil {
		fmt.Printf("geoip-build: %s@%s: cached %s\n", p.name, p.version, dst)
		return dst, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Printf("geoip-build: %s: cached copy rejected (%v), downloading again\n", dst, err)
	}
	u := p.url(registry)
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 30 * time.Second,
		ForceAttemptHTTP2:   true,
	}, Timeout: 15 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w (offline? put the tarball in %s)", u, err, cacheDir)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading %s: HTTP %s", u, resp.Status)
	}
	f, err := os.CreateTemp(cacheDir, ".download-*")
	if err != nil {
		return "", err
	}
	h := sha512.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if err := closeSync(f, err); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("downloading %s: %w", u, err)
	}
	if got := "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil)); got != p.integrity {
		os.Remove(f.Name())
		return "", fmt.Errorf("%s: integrity mismatch: got %s, pinned %s", u, got, p.integrity)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	fmt.Printf("geoip-build: %s@%s: downloaded and verified in %s\n", p.name, p.version, time.Since(t0).Round(time.Millisecond))
	return dst, nil
}

func verifyFile(p, integrity string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil)); got != integrity {
		return fmt.Errorf("integrity mismatch: got %s, pinned %s", got, integrity)
	}
	return nil
}

// walkTar calls fn for each regular file of a .tgz.
func walkTar(tgz string, fn func(name string, r io.Reader) error) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(h.Name, tr); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
}

type asnValue struct {
	asn uint32
	org string
}

// asnKeys is a cheap mmdbwriter.KeyGenerator for our one record shape
// (the default serialises and SHA-256-hashes every inserted value).
type asnKeys struct{}

func (asnKeys) Key(v mmdbtype.DataType) ([]byte, error) {
	m, ok := v.(mmdbtype.Map)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T", v)
	}
	n, _ := m["autonomous_system_number"].(mmdbtype.Uint32)
	o, _ := m["autonomous_system_organization"].(mmdbtype.String)
	return []byte(strconv.FormatUint(uint64(n), 10) + "\x00" + string(o)), nil
}

type csvStats struct {
	files, v4, v6, skipped, values int
}

func insertCSV(ctx context.Context, tree *mmdbwriter.Tree, values map[asnValue]mmdbtype.Map, name string, r io.Reader, st *csvStats) error {
	st.files++
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	line := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line++
		if err != nil {
			return err
		}
		if line%50000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		start, err1 := netip.ParseAddr(rec[0])
		end, err2 := netip.ParseAddr(rec[1])
		asn, err3 := strconv.ParseUint(rec[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
		if start.Is4() != end.Is4() || end.Less(start) {
			return fmt.Errorf("%s line %d: bad range %s-%s", name, line, start, end)
		}
		if start.Is4() {
			st.v4++
		} else {
			st.v6++
		}
		if asn == 0 {
			st.skipped++
			continue
		}
		k := asnValue{uint32(asn), rec[3]}
		v, ok := values[k]
		if !ok {
			v = mmdbtype.Map{
				"autonomous_system_number":       mmdbtype.Uint32(asn),
				"autonomous_system_organization": mmdbtype.String(rec[3]),
			}
			values[k] = v
			st.values++
		}
		err = tree.InsertRange(start.AsSlice(), end.AsSlice(), v)
		var an *mmdbwriter.AliasedNetworkError
		var rn *mmdbwriter.ReservedNetworkError
		if errors.As(err, &an) || errors.As(err, &rn) {
			st.skipped++
			continue
		}
		if err != nil {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
	}
}

// check opens the freshly built files with the collector's own reader and
// looks up well-known addresses.
func check(countryPath, asnPath string) error {
	db, err := geoip.OpenFiles(countryPath, asnPath)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, c := range []struct {
		ip, country string
		asn         uint32
	}{
		{"8.8.8.8", "US", 15169},
		{"2001:4860:4860::8888", "US", 15169},
	} {
		r, _ := db.LookupString(c.ip)
		if r.Country != c.country || r.ASN != c.asn {
			return fmt.Errorf("%s: got country %q ASN %d, want %q ASN %d", c.ip, r.Country, r.ASN, c.country, c.asn)
		}
	}
	return nil
}
