package loadgen_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/loadgen"
	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/store"
)

// startCollector runs a real collector in-process: TLS listener on loopback, SQLite in dir.
func startCollector(t *testing.T, dir string, opts ...func(*collector.Options)) (addr string, caPEM []byte, secret string, st *store.SQLite) {
	t.Helper()
	ctx := context.Background()
	ca, _, err := pki.LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err = store.OpenSQLite(ctx, filepath.Join(dir, "farmwatch.db"), nil)
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := col.Server(tlsConf)
	go gs.Serve(col.Listen(l))
	t.Cleanup(func() { gs.Stop(); st.Close() })
	secret = "fwe_test_loadgen"
	if err := st.CreateEnrollSecret(ctx, store.EnrollSecret{ID: "es_loadgen", Name: "loadgen", Hash: collector.HashSecret(secret), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	caPEM, err = os.ReadFile(filepath.Join(dir, pki.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	return l.Addr().String(), caPEM, secret, st
}

func TestLoadAgainstCollector(t *testing.T) {
	addr, caPEM, secret, st := startCollector(t, t.TempDir())
	corpus, err := loadgen.LoadCorpus("../eval/testdata/scenarios", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus) < 60 {
		t.Fatalf("corpus has %d scenario devices, want the whole suite", len(corpus))
	}
	const devices = 6
	stateDir := t.TempDir()
	cfg := loadgen.Config{Server: addr, CAPEM: caPEM, Secret: secret, Corpus: corpus, Devices: devices, Concurrency: 3,
		Warmup: 300 * time.Millisecond, Duration: 1500 * time.Millisecond, HeartbeatInterval: time.Second, Churn: 20,
		StateDir: stateDir, EnrollConcurrency: 2, MaxConns: 4}
	check := func(run string, r *loadgen.Result) {
		t.Helper()
		var out strings.Builder
		if err := r.WriteText(&out); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s:\n%s", run, out.String())
		if r.Acked == 0 || r.AckedWindow == 0 || r.Throughput <= 0 || r.LatencyP50 <= 0 {
			t.Errorf("%s: nothing acknowledged in the window", run)
		}
		if len(r.Errors) > 0 || r.Duplicates > 0 {
			t.Errorf("%s: errors %v, duplicates %d", run, r.Errors, r.Duplicates)
		}
		if r.Heartbeats == 0 {
			t.Errorf("%s: no heartbeat answered", run)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if last := lines[len(lines)-1]; !strings.HasSuffix(last, " reports/s") || strings.ContainsAny(last, ".") {
			t.Errorf("%s: last line %q, want \"N reports/s\"", run, last)
		}
	}

	r1, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	check("first run", r1)
	if r1.Enrolled != devices || r1.Cached != 0 {
		t.Errorf("first run: enrolled %d, cached %d; want %d, 0", r1.Enrolled, r1.Cached, devices)
	}
	if r1.LimitCloses == 0 {
		t.Errorf("first run: %d devices over 4 connections closed none", devices)
	}

	// Again from the state cache: no enrollment, and the sequences continue where the
	// collector is (no replayed sequence, no gap).
	r2, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	check("second run", r2)
	if r2.Enrolled != 0 || r2.Cached != devices || r2.Resyncs == 0 {
		t.Errorf("second run: enrolled %d, cached %d, resynced %d; want 0, %d, >0", r2.Enrolled, r2.Cached, r2.Resyncs, devices)
	}

	ctx := context.Background()
	ids, err := st.DeviceIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != devices {
		t.Fatalf("collector holds %d devices, want %d", len(ids), devices)
	}
	hosts := map[string]bool{}
	for _, id := range ids {
		d, err := st.Device(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if hosts[d.Hostname] || d.SerialNumber == "" {
			t.Errorf("device %s: hostname %q repeated or no serial", id, d.Hostname)
		}
		hosts[d.Hostname] = true
		fs, err := st.Findings(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.Source == "collector" && strings.HasPrefix(f.Signal, "agent.") {
				t.Errorf("device %s: collector finding %s/%s: the load is not behaving as an agent", id, f.Signal, f.Key)
			}
		}
	}
}

// With -subscribe every simulated device asks for a push stream; past the collector's cap the
// refusals are counted and the load goes on.
func TestLoadSubscribesPastTheStreamCap(t *testing.T) {
	addr, caPEM, secret, _ := startCollector(t, t.TempDir(), func(o *collector.Options) { o.Limits.PushStreams = 2 })
	corpus, err := loadgen.LoadCorpus("../eval/testdata/scenarios", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := loadgen.Run(context.Background(), loadgen.Config{Server: addr, CAPEM: caPEM, Secret: secret, Corpus: corpus, Devices: 5,
		Concurrency: 2, Warmup: 200 * time.Millisecond, Duration: time.Second, HeartbeatInterval: time.Second, Subscribe: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) > 0 || r.AckedWindow == 0 {
		t.Fatalf("errors %v, acknowledged in the window %d", r.Errors, r.AckedWindow)
	}
	if r.StreamsAsked < 5 || r.StreamsRefused < 3 || r.Pushes < 2 {
		t.Fatalf("push streams: %d asked, %d refused, %d pushes; want 5+, 3+ (cap 2) and the catalog pushed to the 2 held", r.StreamsAsked, r.StreamsRefused, r.Pushes)
	}
}

// Copies of the scenario suite are separate homes: a copy's MACs and display serials differ
// from the original's, keep their vendor prefix, and the original is left as it was.
func TestCopiesAreSeparateHomes(t *testing.T) {
	f := &pb.Facts{
		Interfaces: []*pb.NetworkInterface{{Name: "wlan0", MacAddress: "3c:22:fb:00:00:01"}},
		Lan:        &pb.Lan{Gateways: []*pb.LanHost{{Ip: "192.168.1.1", Mac: "00:11:22:33:44:55"}}, Wifi: []*pb.WiFi{{Bssid: "a0:63:91:00:00:09"}}},
		Displays:   []*pb.Display{{Manufacturer: "LNX", SerialString: "CAFEBABE", SerialNumber: 7}},
	}
	orig := proto.Clone(f)
	same := loadgen.ForDevice(f, nil, 0)
	c := loadgen.ForDevice(f, nil, 3)
	if !proto.Equal(f, orig) || !proto.Equal(same.GetLan(), f.GetLan()) {
		t.Fatal("the original facts changed, or copy 0 is not the original")
	}
	if got := c.GetLan().GetGateways()[0].GetMac(); got == "00:11:22:33:44:55" || !strings.HasPrefix(got, "00:11:22:") {
		t.Errorf("copy's gateway %s", got)
	}
	if c.GetInterfaces()[0].GetMacAddress() == "3c:22:fb:00:00:01" || c.GetLan().GetWifi()[0].GetBssid() == "a0:63:91:00:00:09" {
		t.Error("copy keeps the original's interface MAC or BSSID")
	}
	if d := c.GetDisplays()[0]; d.GetSerialString() != "CAFEBABE-3" || d.GetSerialNumber() == 7 {
		t.Errorf("copy's display serial %q/%d", d.GetSerialString(), d.GetSerialNumber())
	}
}
