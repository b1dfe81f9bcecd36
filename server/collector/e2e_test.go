package collector_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/client"
	"github.com/farmwatch/farmwatch/agent/detect"
	_ "github.com/farmwatch/farmwatch/agent/detectors"
	"github.com/farmwatch/farmwatch/agent/enroll"
	"github.com/farmwatch/farmwatch/agent/runner"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/platform/host"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/store"
)

// testCollector is a real collector: TLS listener on loopback, SQLite in a data directory.
type testCollector struct {
	t    *testing.T
	dir  string
	addr string
	ca   *pki.CA
	st   *store.SQLite
	col  *collector.Collector
	gs   *grpc.Server
}

func startCollector(t *testing.T, dir, addr string, opts ...func(*collector.Options)) *testCollector {
	t.Helper()
	ctx := context.Background()
	ca, _, err := pki.LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := collector.Options{Store: st, CA: ca}
	for _, f := range opts {
		f(&o)
	}
	col, err := collector.New(o)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := col.TLSConfig([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	for i := 0; ; i++ { // the port of a restarted collector may take a moment to free
		if l, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	gs := col.Server(tlsConf)
	go gs.Serve(col.Listen(l))
	c := &testCollector{t: t, dir: dir, addr: l.Addr().String(), ca: ca, st: st, col: col, gs: gs}
	t.Cleanup(c.stop)
	return c
}

func (c *testCollector) stop() {
	if c.gs != nil {
		c.gs.Stop()
		c.st.Close()
		c.gs = nil
	}
}

func (c *testCollector) secret(name string) string {
	c.t.Helper()
	secret := "fwe_test_" + name
	err := c.st.CreateEnrollSecret(context.Background(), store.EnrollSecret{ID: "es_" + name, Name: name, Hash: collector.HashSecret(secret), CreatedAt: time.Now()})
	if err != nil {
		c.t.Fatal(err)
	}
	return secret
}

func (c *testCollector) caPEM() []byte {
	b, err := os.ReadFile(filepath.Join(c.dir, pki.CACertFile))
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

type testAgent struct {
	dir state.Dir
	rec state.Record
	sp  *spool.Spool
	r   *runner.Runner
}

func enrollAgent(t *testing.T, c *testCollector, secret string) *testAgent {
	t.Helper()
	dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := host.Read(context.Background(), "")
	rec, err := enroll.Enroll(context.Background(), dir, enroll.Request{Server: c.addr, CAPEM: c.caPEM(), Secret: secret, Hardware: scan.Identity(id), AgentVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	a := &testAgent{dir: dir, rec: rec}
	a.open(t)
	return a
}

func (a *testAgent) open(t *testing.T) {
	t.Helper()
	sp, err := spool.OpenOrSetAside(a.dir.File(state.SpoolFile), spool.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dets, err := detect.New(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.sp = sp
	a.r = &runner.Runner{State: a.dir, Spool: sp, Interval: time.Hour, AgentVersion: "test", Scanner: &scan.Scanner{Detectors: dets, AgentVersion: "test"}}
	if err := a.r.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.r.Close(); sp.Close() })
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEndToEndReportsSurviveCollectorRestart(t *testing.T) {
	dataDir := t.TempDir()
	c := startCollector(t, dataDir, "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)

	for i := 0; i < 3; i++ {
		if err := a.r.RunOnce(ctx); err != nil {
			t.Fatalf("run once %d: %v", i, err)
		}
	}
	d, err := c.st.Device(ctx, a.rec.DeviceID)
	if err != nil || d.HighestSequence != 3 || d.Reports != 3 {
		t.Fatalf("device after 3 runs: %+v %v", d, err)
	}
	facts, _, err := c.st.Facts(ctx, a.rec.DeviceID)
	if err != nil || facts.GetProcessCount() == 0 || facts.GetHost().GetHostname() == "" {
		t.Fatalf("facts not stored: %v %v", facts.GetHost(), err)
	}
	// The heartbeat before each scan measures the clock against the collector (same machine:
	// no skew beyond scheduling noise).
	if tf := facts.GetTime(); !tf.GetClockMeasured() || tf.GetClockSkewMillis() < -500 || tf.GetClockSkewMillis() > 500 || tf.GetRoundTripMillis() > 5000 {
		t.Fatalf("clock facts: %v", tf)
	}

	// Collector down: reports stay spooled.
	addr := c.addr
	c.stop()
	for i := 0; i < 2; i++ {
		if _, err := a.r.ScanOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := a.r.Flush(short); err == nil {
		t.Fatal("flush succeeded with the collector down")
	}
	cancel()
	if st, _ := a.sp.Stats(); st.Pending != 2 {
		t.Fatalf("spool while collector down: %+v", st)
	}

	// Collector back on the same data and address: everything arrives, nothing twice.
	c = startCollector(t, dataDir, addr)
	// The agent's connection is in reconnect backoff; the sender retries like this.
	sent := 0
	waitFor(t, "spooled reports delivered after restart", func() bool {
		n, err := a.r.Flush(ctx)
		sent += n
		return err == nil
	})
	if sent != 2 {
		t.Fatalf("flush after restart sent %d, want 2", sent)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		r, err := c.st.Report(ctx, a.rec.DeviceID, seq)
		if err != nil || r.GetSequence() != seq {
			t.Fatalf("acknowledged report %d missing after restart: %v", seq, err)
		}
	}
	if gaps, _ := c.st.SequenceGaps(ctx, a.rec.DeviceID); len(gaps) != 0 {
		t.Fatalf("gaps: %v", gaps)
	}

	// A replayed sequence is acknowledged without a second row.
	old, _ := c.st.Report(ctx, a.rec.DeviceID, 3)
	conn := agentConn(t, a)
	resp, err := conn.UploadReport(ctx, &pb.UploadReportRequest{Report: old})
	if err != nil || !resp.GetStored() || !resp.GetDuplicate() || resp.GetHighestSequence() != 5 {
		t.Fatalf("replay: %v %v", resp, err)
	}
	if d, _ := c.st.Device(ctx, a.rec.DeviceID); d.Reports != 5 {
		t.Fatalf("reports after replay = %d, want 5", d.Reports)
	}

	// The push stream: "scan now" makes a running agent report.
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.r.Run(runCtx) }()
	waitFor(t, "agent subscribed", func() bool { return len(c.col.Connected()) == 1 })
	waitFor(t, "start-up scan stored", func() bool { d, _ := c.st.Device(ctx, a.rec.DeviceID); return d.HighestSequence == 6 })
	if !c.col.Push(a.rec.DeviceID, &pb.Push{Id: "p1", Kind: &pb.Push_ScanNow{ScanNow: &pb.ScanNow{Reason: "test"}}}) {
		t.Fatal("push not queued")
	}
	waitFor(t, "pushed scan stored", func() bool { d, _ := c.st.Device(ctx, a.rec.DeviceID); return d.HighestSequence == 7 })
	stopRun()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// identity returns the pinned CAs and the certificate of an enrolled agent.
func (a *testAgent) identity(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	roots, err := a.dir.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := a.dir.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	return roots, cert
}

func agentConn(t *testing.T, a *testAgent) *client.Conn {
	t.Helper()
	roots, cert := a.identity(t)
	conn, err := client.Dial(a.rec.Server, roots, &cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func minimalReport(seq uint64) *pb.Report {
	return &pb.Report{Sequence: seq, Created: timestamppb.Now()}
}

func assertNoReports(t *testing.T, st store.Store) {
	t.Helper()
	devs, _, err := st.Devices(context.Background(), store.DeviceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Reports != 0 {
			t.Fatalf("device %s has %d reports stored", d.ID, d.Reports)
		}
	}
}

func TestEnrollmentRefusesBadSecrets(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	good := c.secret("good")
	revoked := c.secret("old")
	if _, err := c.st.RevokeEnrollSecret(context.Background(), "old", time.Now()); err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string]string{"wrong": "fwe_not_a_secret", "revoked": revoked, "oversized": strings.Repeat("x", 1000)} {
		dir, _ := state.Open(filepath.Join(t.TempDir(), name))
		_, err := enroll.Enroll(ctxT(t), dir, enroll.Request{Server: c.addr, CAPEM: c.caPEM(), Secret: secret, Hardware: &pb.HardwareIdentity{Hostname: "h"}})
		if status.Code(errors.Unwrap(err)) != codes.PermissionDenied {
			t.Errorf("%s secret: %v, want PermissionDenied", name, err)
		}
		if _, err := dir.Record(); !errors.Is(err, state.ErrNotEnrolled) {
			t.Errorf("%s secret: agent recorded an enrollment", name)
		}
	}
	if devs, total, _ := c.st.Devices(context.Background(), store.DeviceFilter{}); total != 0 {
		t.Fatalf("devices stored after refused enrollments: %+v", devs)
	}
	// Malformed hardware identity and CSR are refused too.
	dir, _ := state.Open(filepath.Join(t.TempDir(), "badmac"))
	_, err := enroll.Enroll(ctxT(t), dir, enroll.Request{Server: c.addr, CAPEM: c.caPEM(), Secret: good, Hardware: &pb.HardwareIdentity{MacAddresses: []string{"not-a-mac"}}})
	if status.Code(errors.Unwrap(err)) != codes.InvalidArgument {
		t.Errorf("bad MAC: %v", err)
	}
	conn, _ := client.Dial(c.addr, c.ca.Pool(), nil)
	defer conn.Close()
	_, err = conn.Enroll(ctxT(t), &pb.EnrollRequest{EnrollSecret: good, CsrDer: []byte("garbage"), Hardware: &pb.HardwareIdentity{}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad CSR: %v", err)
	}
}

func TestAgentServiceRefusesUntrustedCertificates(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("s"))
	ctx := ctxT(t)
	key, _, _ := a.dir.Key()
	csrDER, _ := state.CSR(key, "h")
	csr, _ := pki.ParseCSR(csrDER)

	// No certificate at all.
	none, _ := client.Dial(c.addr, c.ca.Pool(), nil)
	defer none.Close()
	if _, err := none.UploadReport(ctx, &pb.UploadReportRequest{Report: minimalReport(1)}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no certificate: %v", err)
	}

	// A certificate from another CA.
	other, _, err := pki.LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.IssueDevice(csr, a.rec.DeviceID, time.Now(), time.Hour)
	if _, err := uploadWith(ctx, c, foreign.Raw, key); err == nil {
		t.Error("certificate from another CA accepted")
	}

	// An expired certificate from the right CA, and one the store never issued.
	expired, _ := c.ca.IssueDevice(csr, a.rec.DeviceID, time.Now().Add(-48*time.Hour), time.Hour)
	_ = c.st.AddCertificate(ctx, store.Certificate{Serial: expired.SerialNumber.String(), DeviceID: a.rec.DeviceID, NotBefore: expired.NotBefore, NotAfter: expired.NotAfter, IssuedAt: time.Now()})
	if _, err := uploadWith(ctx, c, expired.Raw, key); err == nil {
		t.Error("expired certificate accepted")
	}
	unknown, _ := c.ca.IssueDevice(csr, a.rec.DeviceID, time.Now(), time.Hour)
	if _, err := uploadWith(ctx, c, unknown.Raw, key); err == nil {
		t.Error("certificate unknown to the store accepted")
	}
	assertNoReports(t, c.st)

	// A revoked device is refused from its next handshake, and nothing is stored.
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.st.RevokeDevice(ctx, a.rec.DeviceID, time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, _, _ := a.dir.Certificate()
	if _, err := uploadWith(ctx, c, cert.Certificate[0], key); err == nil {
		t.Error("revoked device accepted")
	}
	if d, _ := c.st.Device(ctx, a.rec.DeviceID); d.Reports != 1 {
		t.Errorf("reports after revocation = %d, want 1", d.Reports)
	}
}

func uploadWith(ctx context.Context, c *testCollector, certDER []byte, key any) (*pb.UploadReportResponse, error) {
	conn, err := client.Dial(c.addr, c.ca.Pool(), &tls.Certificate{Certificate: [][]byte{certDER}, PrivateKey: key})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.UploadReport(ctx, &pb.UploadReportRequest{Report: minimalReport(1)})
}

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)   { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error { *(v.(*[]byte)) = b; return nil }
func (rawCodec) Name() string                    { return "proto" }
func (rawCodec) String() string                  { return "raw" }

var _ encoding.Codec = rawCodec{}

func TestOversizedMalformedAndInvalidReportsStoreNothing(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("s"))
	conn := agentConn(t, a)
	ctx := ctxT(t)

	huge := minimalReport(1)
	huge.Facts = &pb.Facts{Processes: []*pb.Process{{Name: "x", CommandLine: strings.Repeat("A", 3<<20)}}}
	_, err := conn.UploadReport(ctx, &pb.UploadReportRequest{Report: huge}, grpc.MaxCallSendMsgSize(16<<20))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized: %v, want ResourceExhausted", err)
	}

	garbage := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01}
	var out []byte
	err = a.rawInvoke(ctx, conn, garbage, &out)
	if code := status.Code(err); code != codes.Internal && code != codes.InvalidArgument {
		t.Errorf("malformed bytes: %v", err)
	}

	invalid := map[string]*pb.Report{
		"sequence zero":  {Sequence: 0, Created: timestamppb.Now()},
		"no created":     {Sequence: 1},
		"bad signal":     {Sequence: 1, Created: timestamppb.Now(), Findings: []*pb.Finding{{Signal: "DROP TABLE"}}},
		"confidence":     {Sequence: 1, Created: timestamppb.Now(), Findings: []*pb.Finding{{Signal: "a.b", Confidence: 7}}},
		"evidence flood": {Sequence: 1, Created: timestamppb.Now(), Findings: []*pb.Finding{{Signal: "a.b", Evidence: flood(100)}}},
		"bad MAC":        {Sequence: 1, Created: timestamppb.Now(), Facts: &pb.Facts{Host: &pb.HardwareIdentity{MacAddresses: []string{"zz"}}}},
	}
	for name, r := range invalid {
		if _, err := conn.UploadReport(ctx, &pb.UploadReportRequest{Report: r}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	assertNoReports(t, c.st)
}

func (a *testAgent) rawInvoke(ctx context.Context, conn *client.Conn, in []byte, out *[]byte) error {
	roots, _ := a.dir.CAPool()
	cert, _, _ := a.dir.Certificate()
	cc, err := grpc.NewClient("passthrough:///"+a.rec.Server, grpc.WithTransportCredentials(credentialsFor(roots, cert)))
	if err != nil {
		return err
	}
	defer cc.Close()
	return cc.Invoke(ctx, pb.AgentService_UploadReport_FullMethodName, &in, out, grpc.ForceCodec(rawCodec{}))
}

func credentialsFor(roots *x509.CertPool, cert tls.Certificate) credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots, ServerName: "127.0.0.1", Certificates: []tls.Certificate{cert}})
}

func flood(n int) map[string]string {
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[strings.Repeat("k", i+1)] = "v"
	}
	return m
}

func TestCorruptSpoolIsSetAsideAndSequencesContinue(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("s"))
	ctx := ctxT(t)
	for i := 0; i < 2; i++ {
		if err := a.r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a.r.Close()
	a.sp.Close()
	path := a.dir.File(state.SpoolFile)
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	a.open(t)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatalf("run after corrupt spool: %v", err)
	}
	d, _ := c.st.Device(ctx, a.rec.DeviceID)
	if d.HighestSequence != 3 || d.Reports != 3 {
		t.Fatalf("after corrupt spool: highest %d reports %d, want 3 and 3 (the new report must not be taken for a replay)", d.HighestSequence, d.Reports)
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 1 {
		t.Fatalf("corrupt spool not kept: %v", matches)
	}
}

func TestCorruptAgentStateGivesClearErrors(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("s"))
	if err := os.WriteFile(a.dir.File(state.RecordFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &runner.Runner{State: a.dir}
	if err := r.Connect(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt record: %v", err)
	}
	if err := os.WriteFile(a.dir.File(state.KeyFile), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.dir.Key(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt key: %v", err)
	}
	st, err := os.Stat(a.dir.File(state.CertFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("certificate permissions: %v %v", st.Mode(), err)
	}
}

func TestRenewKeepsTheDeviceKey(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("s"))
	ctx := ctxT(t)
	_, before, _ := a.dir.Certificate()
	if err := a.r.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	_, after, _ := a.dir.Certificate()
	if before.SerialNumber.Cmp(after.SerialNumber) == 0 {
		t.Fatal("certificate not replaced")
	}
	if id, _ := pki.DeviceID(after.PublicKey); id != a.rec.DeviceID {
		t.Fatalf("device id changed to %s", id)
	}
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatalf("report with renewed certificate: %v", err)
	}
}

func TestPushedCatalogIsUsedAndKept(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	doc := fmt.Sprintf(`{"version":"2099.1.1-test","os_remote_listeners":[{"id":"testvnc","name":"Test VNC","ports":[%d],"attack":"T1021.005"}]}`, port)
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) { o.Catalog = []byte(doc) })
	a := enrollAgent(t, c, c.secret("s"))
	ctx := ctxT(t)
	if v := a.r.Scanner.Catalog().Version; v == "2099.1.1-test" {
		t.Fatal("agent starts with the pushed catalog before any push")
	}
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.r.Run(runCtx) }()
	waitFor(t, "catalog pushed and in use", func() bool { return a.r.Scanner.Catalog().Version == "2099.1.1-test" })
	c.col.Push(a.rec.DeviceID, &pb.Push{Id: "scan", Kind: &pb.Push_ScanNow{ScanNow: &pb.ScanNow{Reason: "catalog test"}}})
	var found *store.Finding
	waitFor(t, "finding from the pushed signature", func() bool {
		fs, _ := c.st.Findings(ctx, a.rec.DeviceID)
		for i := range fs {
			if fs[i].Evidence["service"] == "testvnc" && fs[i].Evidence["listen"] == l.Addr().String() {
				found = &fs[i]
			}
		}
		return found != nil
	})
	stopRun()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rep, err := c.st.Report(ctx, a.rec.DeviceID, found.Sequence)
	if err != nil || rep.GetCatalogVersion() != "2099.1.1-test" {
		t.Fatalf("report catalog version %q, %v", rep.GetCatalogVersion(), err)
	}
	// A restarted agent keeps the pushed catalog without waiting for the collector.
	a.r.Close()
	a.sp.Close()
	a.open(t)
	if v := a.r.Scanner.Catalog().Version; v != "2099.1.1-test" {
		t.Fatalf("catalog after restart %q", v)
	}
}

func TestCollectorRefusesAnInvalidCatalog(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ca, _, _ := pki.LoadOrCreate(t.TempDir(), time.Now())
	if _, err := collector.New(collector.Options{Store: st, CA: ca, Catalog: []byte(`{"version":"1","os_remote_listeners":[{"id":"x"}]}`)}); err == nil {
		t.Fatal("invalid catalog accepted")
	}
}
