// Command farmwatch-server is the Farmwatch collector: it enrolls agents, stores their reports,
// and serves the console where security teams review devices.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/api"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/console"
	"github.com/farmwatch/farmwatch/server/eval"
	"github.com/farmwatch/farmwatch/server/geoip"
	"github.com/farmwatch/farmwatch/server/location"
	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// version is set at build time (-X main.version=...).
var version = "dev"

const usage = `farmwatch-server is the Farmwatch collector and console.

Usage:
  farmwatch-server serve [--data DIR] [--grpc-listen ADDR] [--http-listen ADDR] [--server-name NAME]...
  farmwatch-server enroll-secret create [--data DIR] [--name NAME]
  farmwatch-server enroll-secret list [--data DIR] [--json]
  farmwatch-server enroll-secret revoke [--data DIR] ID|NAME
  farmwatch-server devices [--data DIR] [--json] [--search TEXT]
  farmwatch-server device revoke [--data DIR] DEVICE_ID
  farmwatch-server user add [--data DIR] --username NAME [--role admin|analyst|viewer] [--password-stdin]
  farmwatch-server geoip [--json] [--dir DIR] [--country FILE] [--asn FILE] IP...
  farmwatch-server people import [--data DIR] FILE.csv
  farmwatch-server people list [--data DIR] [--json]
  farmwatch-server device set-group [--data DIR] DEVICE_ID GROUP
  farmwatch-server clusters [--data DIR] [--json]
  farmwatch-server policy show [--data DIR] [--default]
  farmwatch-server policy check FILE
  farmwatch-server policy history [--data DIR] [--json]
  farmwatch-server eval --scenarios DIR [--json] [--policy FILE]
  farmwatch-server token create [--data DIR] [--name NAME] [--role viewer|analyst|admin]
  farmwatch-server token list [--data DIR] [--json]
  farmwatch-server token revoke [--data DIR] ID|NAME
  farmwatch-server ca status|stage|promote|finish [--data DIR]
  farmwatch-server version

The data directory holds the database (farmwatch.db) and the collector CA (ca.pem, ca-key.pem).
`

const dbFile = "farmwatch.db"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type usageError struct{ error }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	sub := ""
	if len(args) > 1 {
		sub = args[1]
	}
	switch {
	case args[0] == "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case args[0] == "enroll-secret" && sub == "create":
		err = cmdSecretCreate(ctx, args[2:], stdout, stderr)
	case args[0] == "enroll-secret" && sub == "list":
		err = cmdSecretList(ctx, args[2:], stdout, stderr)
	case args[0] == "enroll-secret" && sub == "revoke":
		err = cmdSecretRevoke(ctx, args[2:], stdout, stderr)
	case args[0] == "ca" && sub != "":
		err = cmdCA(ctx, sub, args[2:], stdout, stderr)
	case args[0] == "devices":
		err = cmdDevices(ctx, args[1:], stdout, stderr)
	case args[0] == "device" && sub == "revoke":
		err = cmdDeviceRevoke(ctx, args[2:], stdout, stderr)
	case args[0] == "user" && sub == "add":
		err = cmdUserAdd(ctx, args[2:], stdin, stdout, stderr)
	case args[0] == "geoip":
		return geoip.Command(args[1:], stdout, stderr, defaultGeoDir(defaultDataDir()))
	case args[0] == "people" && sub == "import":
		err = cmdPeopleImport(ctx, args[2:], stdout, stderr)
	case args[0] == "device" && sub == "set-group":
		err = cmdDeviceSetGroup(ctx, args[2:], stdout, stderr)
	case args[0] == "token" && sub == "create":
		err = cmdTokenCreate(ctx, args[2:], stdout, stderr)
	case args[0] == "token" && sub == "list":
		err = cmdTokenList(ctx, args[2:], stdout, stderr)
	case args[0] == "token" && sub == "revoke":
		err = cmdTokenRevoke(ctx, args[2:], stdout, stderr)
	case args[0] == "clusters":
		err = cmdClusters(ctx, args[1:], stdout, stderr)
	case args[0] == "policy" && sub == "show":
		err = cmdPolicyShow(ctx, args[2:], stdout, stderr)
	case args[0] == "policy" && sub == "check":
		err = cmdPolicyCheck(args[2:], stdout, stderr)
	case args[0] == "policy" && sub == "history":
		err = cmdPolicyHistory(ctx, args[2:], stdout, stderr)
	case args[0] == "eval":
		return eval.Command(args[1:], stdout, stderr)
	case args[0] == "people" && sub == "list":
		err = cmdPeopleList(ctx, args[2:], stdout, stderr)
	case args[0] == "version" || args[0] == "--version":
		fmt.Fprintf(stdout, "farmwatch-server %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", strings.Join(args[:min(2, len(args))], " "), usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "farmwatch-server: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "farmwatch-server: %v\n", err)
		return 1
	}
	return 0
}

func defaultDataDir() string {
	switch runtime.GOOS {
	case "windows":
		return filepath.Join(os.Getenv("ProgramData"), "Farmwatch", "server")
	case "darwin":
		return "/Library/Application Support/Farmwatch/server"
	}
	return "/var/lib/farmwatch-server"
}

type flags struct {
	*flag.FlagSet
	data     *string
	postgres *string
}

func newFlags(name string, stderr io.Writer) flags {
	fs := flag.NewFlagSet("farmwatch-server "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return flags{FlagSet: fs, data: fs.String("data", defaultDataDir(), "data directory"),
		postgres: fs.String("postgres", os.Getenv("FARMWATCH_POSTGRES_DSN"),
			"PostgreSQL connection string (postgres://USER@HOST/DB?sslmode=verify-full, or $FARMWATCH_POSTGRES_DSN) instead of the embedded SQLite store; the data directory still holds the CA")}
}

// parse accepts flags before and after positional arguments.
func (f flags) parse(args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		if f.NArg() == 0 {
			break
		}
		pos = append(pos, f.Arg(0))
		args = f.Args()[1:]
	}
	if len(pos) != positional {
		return nil, usageError{fmt.Errorf("want %d argument(s), got %d", positional, len(pos))}
	}
	return pos, nil
}

// openStore opens the store: PostgreSQL when --postgres is given, else the SQLite database of
// an existing data directory (CLI commands never create one by accident in the wrong place).
func (f flags) openStore(ctx context.Context, log *slog.Logger, create bool) (store.Store, error) {
	if *f.postgres != "" {
		return store.OpenPostgres(ctx, *f.postgres, log)
	}
	dir := *f.data
	if !create {
		if _, err := os.Stat(filepath.Join(dir, dbFile)); err != nil {
			return nil, fmt.Errorf("no collector data in %s (start farmwatch-server serve --data %s first): %w", dir, dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return store.OpenSQLite(ctx, filepath.Join(dir, dbFile), log)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("serve", stderr)
	grpcAddr := f.String("grpc-listen", "127.0.0.1:7443", "agent gRPC listener (TLS)")
	httpAddr := f.String("http-listen", "127.0.0.1:7080", "console and API listener")
	consoleTLSMode := f.String("console-tls", "auto", "serve the console over HTTPS: auto (unless it listens on loopback only), on, off")
	consoleCert := f.String("console-cert", "", "console certificate (PEM); default: one issued by the collector CA")
	consoleKey := f.String("console-key", "", "console certificate's private key (PEM)")
	var names multiFlag
	f.Var(&names, "server-name", "host name or address agents use to reach the collector (repeatable; goes into its certificate)")
	certTTL := f.Duration("cert-ttl", 7*24*time.Hour, "lifetime of device certificates")
	limInFlight := f.Int("limit-in-flight", 512, "agent calls served at once; past it calls get RESOURCE_EXHAUSTED with a retry hint")
	limDevice := f.Float64("limit-device-rate", 20, "calls per second one device may make (burst --limit-device-burst)")
	limDeviceBurst := f.Int("limit-device-burst", 100, "burst of one device's calls")
	settleEvery := f.Duration("settle-every", 15*time.Second, "recompute one device's location analysis and score at most this often; calls in between are coalesced (0: after every call)")
	limGlobal := f.Float64("limit-report-rate", 0, "reports per second accepted from all agents (0: bounded by --limit-in-flight only)")
	pushStreams := f.Int("push-streams", 1000, "push streams held open at most (each holds an agent's connection); agents past it get pushes with heartbeats (0: none)")
	maxConns := f.Int("max-connections", 8000, "agent connections open at once; past it new ones wait to be accepted (each costs about 35 KB live, 75 KB resident; the open-file limit must be higher)")
	retention := f.Duration("report-retention", 14*24*time.Hour, "delete stored reports older than this, each device's newest excepted (findings, facts and scores stay); 0 keeps every report")
	idleClose := f.Duration("idle-close", 2*time.Second, "close an agent connection with no call in flight for this long (0: never); memory then follows the agents talking, not the fleet")
	geoDir := f.String("geoip", "", "directory with country.mmdb and asn.mmdb (default: DATA/geoip, then the installed copy, then ./var/geoip)")
	geoCountry := f.String("geoip-country", "", "a MaxMind-format country or city database to use instead (e.g. GeoIP2-Country.mmdb)")
	geoASN := f.String("geoip-asn", "", "a MaxMind-format ASN database to use instead (e.g. GeoLite2-ASN.mmdb)")
	here := f.String("collector-location", "", "LAT,LON of the collector (degrees), for the round-trip bound; unset turns it off")
	var ef exportFlags
	f.Var(&ef.webhooks, "webhook", "URL that receives band changes and new clusters as signed JSON (repeatable)")
	f.StringVar(&ef.webhookSecret, "webhook-secret-file", "", "file holding the webhooks' HMAC secret")
	f.Var(&ef.syslog, "syslog", "syslog receiver for the same events, RFC 5424: tcp://HOST:PORT or tls://HOST:PORT (repeatable)")
	f.StringVar(&ef.syslogCA, "syslog-ca", "", "PEM CA certificates that sign the TLS syslog receiver's certificate (default: system roots)")
	f.StringVar(&ef.jsonl, "export-jsonl", "", "file that gets the same events as JSON Lines")
	var of oidcFlags
	f.StringVar(&of.issuer, "oidc-issuer", "", "OpenID Connect issuer URL for console single sign-on (unset: local accounts only)")
	f.StringVar(&of.clientID, "oidc-client-id", "", "the console's client id at the provider")
	f.StringVar(&of.secretFile, "oidc-client-secret-file", "", "file holding the client secret (empty for a public client)")
	f.StringVar(&of.redirect, "oidc-redirect-url", "", "the console's callback as registered: https://HOST:PORT/login/oidc/callback")
	f.StringVar(&of.roleClaim, "oidc-role-claim", "groups", "ID token claim whose values map to roles")
	f.StringVar(&of.roleMap, "oidc-role-map", "", "claim values to roles: farm-admins=admin,soc=analyst,it=viewer")
	f.Var(&of.domains, "oidc-allowed-domain", "admit only users whose email is in this domain (repeatable)")
	policyFile := f.String("policy", "", "scoring policy YAML, watched and reloaded on change (default: DATA/policy.yaml when present, else the built-in policy)")
	verbose := f.Bool("v", false, "debug logging")
	pprofAddr := f.String("pprof-listen", "", "serve Go's runtime profiles (net/http/pprof) on this loopback address, for performance work (off by default)")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	switch {
	case *limInFlight < 1:
		return usageError{fmt.Errorf("--limit-in-flight: %d: want at least 1", *limInFlight)}
	case !(*limDevice > 0) || *limDevice > 1e6:
		return usageError{fmt.Errorf("--limit-device-rate: %v: want a rate above 0 (calls per second)", *limDevice)}
	case *limDeviceBurst < 1:
		return usageError{fmt.Errorf("--limit-device-burst: %d: want at least 1", *limDeviceBurst)}
	case *settleEvery < 0 || *settleEvery > time.Hour:
		return usageError{fmt.Errorf("--settle-every: %s: want 0 to 1h", *settleEvery)}
	case !(*limGlobal >= 0) || *limGlobal > 1e9:
		return usageError{fmt.Errorf("--limit-report-rate: %v: want 0 (off) or a rate in reports per second", *limGlobal)}
	case *pushStreams < 0 || *pushStreams > 1_000_000:
		return usageError{fmt.Errorf("--push-streams: %d: want 0 to 1000000", *pushStreams)}
	case *maxConns < 1 || *maxConns > 10_000_000:
		return usageError{fmt.Errorf("--max-connections: %d: want 1 to 10000000", *maxConns)}
	case *retention != 0 && *retention < time.Hour:
		return usageError{fmt.Errorf("--report-retention: %s: want 0 (keep every report) or at least 1h", *retention)}
	case *idleClose != 0 && (*idleClose < time.Second || *idleClose > 24*time.Hour):
		return usageError{fmt.Errorf("--idle-close: %s: want 0 (never) or 1s to 24h", *idleClose)}
	}
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr); err != nil {
			return usageError{fmt.Errorf("--pprof-listen: %w", err)}
		}
	}
	var collectorAt *location.Coordinates
	if *here != "" {
		c, err := parseCoordinates(*here)
		if err != nil {
			return usageError{fmt.Errorf("--collector-location: %w", err)}
		}
		collectorAt = &c
	}
	pol, polPath, err := loadPolicy(*f.data, *policyFile)
	if err != nil {
		return err
	}
	lvl := slog.LevelInfo
	if *verbose {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	if err := os.MkdirAll(*f.data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	ca, created, err := pki.LoadOrCreate(*f.data, time.Now())
	if err != nil {
		return err
	}
	if created {
		log.Info("created collector CA", "path", filepath.Join(*f.data, pki.CACertFile))
	}
	st, err := f.openStore(ctx, log, true)
	if err != nil {
		return err
	}
	defer st.Close()
	geo, geoDisabled := openGeo(*f.data, *geoDir, *geoCountry, *geoASN)
	if geo != nil {
		defer geo.Close()
		for _, src := range geo.Sources() {
			log.Info("geolocation database", "kind", src.Kind, "path", src.Path, "type", src.Type, "built", src.BuildTime.Format(time.DateOnly))
		}
	} else {
		log.Warn("geolocation disabled: egress and remote-peer country signals are off", "reason", geoDisabled)
	}
	ex, err := ef.exporter(log)
	if err != nil {
		return err
	}
	var onEvent func(collector.Event)
	if ex != nil {
		onEvent = eventSink(ex, st)
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := ex.Close(dctx); err != nil {
				log.Warn("exports not all delivered at shutdown", "err", err)
			}
		}()
	}
	col, err := collector.New(collector.Options{Store: st, CA: ca, Logger: log, CertTTL: *certTTL, Geo: geo, GeoDisabled: geoDisabled, Policy: pol, CollectorAt: collectorAt, OnEvent: onEvent,
		Limits: collector.Limits{InFlight: *limInFlight, DeviceRate: *limDevice, DeviceBurst: *limDeviceBurst, GlobalRate: *limGlobal,
			PushStreams: orNegative(*pushStreams), IdleClose: orNegative(*idleClose), MaxConnections: *maxConns}, SettleEvery: *settleEvery})
	if err != nil {
		return err
	}
	if err := col.LoadActiveCatalog(ctx); err != nil {
		return err
	}
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, names...)
	if h, _, err := net.SplitHostPort(*grpcAddr); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	if hn, err := os.Hostname(); err == nil {
		hosts = append(hosts, hn)
	}
	tlsConf, err := col.TLSConfig(hosts)
	if err != nil {
		return err
	}
	gl, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		return fmt.Errorf("gRPC listener: %w", err)
	}
	chosts := hosts
	if h, _, err := net.SplitHostPort(*httpAddr); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		chosts = append(chosts, h)
	}
	ctls, err := consoleTLS(*consoleTLSMode, *httpAddr, *consoleCert, *consoleKey, ca, chosts, time.Now())
	if err != nil {
		gl.Close()
		return err
	}
	hl, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		gl.Close()
		return fmt.Errorf("console listener: %w", err)
	}
	scheme := "http"
	if ctls != nil {
		hl, scheme = tls.NewListener(hl, ctls), "https"
	}
	oidc, err := of.config()
	if err != nil {
		return err
	}
	con, err := console.New(console.Options{Store: st, Logger: log, Agents: col, SecureCookies: ctls != nil, Policy: col, Catalogs: col, OIDC: oidc})
	if err != nil {
		return err
	}
	apiH, err := api.New(api.Options{Store: st, Policy: col, Logger: log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(api.Prefix, apiH.Handler())
	mux.Handle("/metrics", requireToken(st, metricsRegistry(col, st, ex).Handler()))
	mux.Handle("/", con.Handler())
	gs := col.Server(tlsConf)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(col.Listen(gl)) }()
	go col.WatchLocations(ctx)
	go col.WatchFleet(ctx, 5*time.Minute)
	go col.WatchSilence(ctx, collector.SilenceSweep)
	go col.WatchRetention(ctx, *retention, collector.PruneEvery)
	if err := col.SetPolicy(ctx, pol, "serve"); err != nil {
		return err
	}
	if polPath != "" {
		go policy.Watch(ctx, polPath, 5*time.Second, func(p *policy.Policy) error { return col.SetPolicy(ctx, p, "file:"+polPath) }, log)
	}
	go func() { errc <- hs.Serve(hl) }()
	go func() { // expired console sessions are deleted, not just ignored
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := st.DeleteExpiredSessions(ctx, time.Now()); err != nil {
					log.Warn("delete expired sessions", "err", err)
				} else if n > 0 {
					log.Debug("deleted expired sessions", "count", n)
				}
			}
		}
	}()
	log.Info("collector serving", "version", version, "grpc", gl.Addr().String(), "console", scheme+"://"+hl.Addr().String(), "data", *f.data)
	fmt.Fprintf(stdout, "grpc %s\nconsole %s://%s\n", gl.Addr(), scheme, hl.Addr())
	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("listener failed", "err", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		gs.Stop()
	}
	// The last heartbeats' last seen times, before the store closes.
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	if ferr := col.FlushSeen(fctx); ferr != nil {
		log.Warn("last seen of the last heartbeats not written", "err", ferr)
	}
	return err
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func randomID(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b), nil
}

func cmdSecretCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("enroll-secret create", stderr)
	name := f.String("name", "", "a name to recognise the secret by (default: generated)")
	group := f.String("group", "", "device group given to the devices it enrolls (policy sanctions tools per group)")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	if !validGroup(*group) {
		return usageError{errors.New("--group: up to 64 letters, digits, '.', '_' or '-'")}
	}
	st, err := f.openStore(ctx, nil, true)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := randomID("es_", 8)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = id
	}
	if len(*name) > 64 {
		return usageError{errors.New("--name longer than 64 characters")}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	secret := "fwe_" + base64.RawURLEncoding.EncodeToString(raw)
	if err := st.CreateEnrollSecret(ctx, store.EnrollSecret{ID: id, Name: *name, Hash: collector.HashSecret(secret), CreatedAt: time.Now(), CreatedBy: "cli", Group: *group}); err != nil {
		return err
	}
	_ = st.Audit(ctx, store.AuditEntry{At: time.Now(), Actor: "cli", Action: "enroll_secret.create", Target: id, Detail: *name})
	fmt.Fprintf(stdout, "created enroll secret %s (%s); it is shown once, store it in your MDM:\n%s\n", id, *name, secret)
	return nil
}

func cmdSecretList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("enroll-secret list", stderr)
	asJSON := f.Bool("json", false, "JSON output")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	secrets, err := st.EnrollSecrets(ctx)
	if err != nil {
		return err
	}
	type row struct {
		ID        string     `json:"id"`
		Name      string     `json:"name"`
		CreatedAt time.Time  `json:"created_at"`
		Active    bool       `json:"active"`
		RevokedAt *time.Time `json:"revoked_at,omitempty"`
		Uses      int        `json:"uses"`
	}
	rows := []row{}
	for _, s := range secrets {
		r := row{ID: s.ID, Name: s.Name, CreatedAt: s.CreatedAt, Active: s.Active(), Uses: s.Uses}
		if !s.Active() {
			r.RevokedAt = &s.RevokedAt
		}
		rows = append(rows, r)
	}
	if *asJSON {
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATE\tUSES\tCREATED")
	for _, r := range rows {
		state := "active"
		if !r.Active {
			state = "revoked " + r.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.ID, r.Name, state, r.Uses, r.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func cmdSecretRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("enroll-secret revoke", stderr)
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.RevokeEnrollSecret(ctx, pos[0], time.Now())
	if err != nil {
		return err
	}
	_ = st.Audit(ctx, store.AuditEntry{At: time.Now(), Actor: "cli", Action: "enroll_secret.revoke", Target: s.ID, Detail: s.Name})
	fmt.Fprintf(stdout, "revoked enroll secret %s (%s); enrolled devices keep working\n", s.ID, s.Name)
	return nil
}

func cmdDevices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("devices", stderr)
	asJSON := f.Bool("json", false, "JSON output")
	search := f.String("search", "", "only devices whose id, hostname, serial or address contains this")
	limit := f.Int("limit", 1000, "at most this many devices")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	devs, total, err := st.Devices(ctx, store.DeviceFilter{Search: *search, Sort: "hostname", Limit: *limit})
	if err != nil {
		return err
	}
	type row struct {
		ID              string    `json:"id"`
		Hostname        string    `json:"hostname"`
		OS              string    `json:"os"`
		OSVersion       string    `json:"os_version"`
		AgentVersion    string    `json:"agent_version"`
		EnrolledAt      time.Time `json:"enrolled_at"`
		LastSeen        time.Time `json:"last_seen"`
		LastAddress     string    `json:"last_address"`
		HighestSequence uint64    `json:"highest_sequence"`
		Reports         int       `json:"reports"`
		Findings        int       `json:"findings"`
		Revoked         bool      `json:"revoked"`
		Group           string    `json:"group,omitempty"`
		Score           float64   `json:"score"`
		Band            string    `json:"band"`
		PolicyVersion   string    `json:"policy_version,omitempty"`
		LocationNotes   []string  `json:"location_notes,omitempty"`
	}
	rows := []row{}
	for _, d := range devs {
		rows = append(rows, row{d.ID, d.Hostname, d.OS, d.OSVersion, d.AgentVersion, d.EnrolledAt, d.LastSeen, d.LastAddress,
			d.HighestSequence, d.Reports, d.FindingsCount, !d.RevokedAt.IsZero(), d.Group, d.Score, d.Band, d.PolicyVersion, d.LocationNotes})
	}
	if *asJSON {
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOSTNAME\tOS\tLAST SEEN\tREPORTS\tFINDINGS\tSCORE\tBAND")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%d\t%d\t%.1f\t%s\n", r.ID, r.Hostname, r.OS, r.OSVersion, r.LastSeen.Local().Format(time.DateTime), r.Reports, r.Findings, r.Score, r.Band)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if total > len(rows) {
		fmt.Fprintf(stdout, "(%d of %d devices shown)\n", len(rows), total)
	}
	return nil
}

func cmdDeviceRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device revoke", stderr)
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeDevice(ctx, pos[0], time.Now()); err != nil {
		return err
	}
	_ = st.Audit(ctx, store.AuditEntry{At: time.Now(), Actor: "cli", Action: "device.revoke", Target: pos[0]})
	fmt.Fprintf(stdout, "revoked device %s: its certificates are refused from the next handshake\n", pos[0])
	return nil
}

func cmdUserAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := newFlags("user add", stderr)
	username := f.String("username", "", "login name")
	role := f.String("role", store.RoleAdmin, "admin, analyst or viewer")
	fromStdin := f.Bool("password-stdin", false, "read the password from standard input (else one is generated and printed)")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	if !validUsername(*username) {
		return usageError{errors.New("--username: 1-64 characters of letters, digits, '.', '_', '-' or '@'")}
	}
	if !store.ValidRole(*role) {
		return usageError{fmt.Errorf("--role %q: want admin, analyst or viewer", *role)}
	}
	var password string
	generated := false
	if *fromStdin {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return err
		}
		password = strings.TrimRight(string(b), "\r\n")
	} else {
		raw := make([]byte, 18)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		password, generated = base64.RawURLEncoding.EncodeToString(raw), true
	}
	if err := account.CheckPassword(password); err != nil {
		return usageError{err}
	}
	hash, err := account.Hash(password)
	if err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateUser(ctx, store.User{Username: *username, PasswordHash: hash, Role: *role, CreatedAt: time.Now()}); err != nil {
		return err
	}
	_ = st.Audit(ctx, store.AuditEntry{At: time.Now(), Actor: "cli", Action: "user.add", Target: *username, Detail: *role})
	fmt.Fprintf(stdout, "created %s user %s\n", *role, *username)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", password)
	}
	return nil
}

func validUsername(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return false
		}
	}
	return true
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// orNegative maps a flag's 0 ("none", "never") to the -1 that collector.Limits reads that way
// (its 0 means "default").
func orNegative[T int | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}
