package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/geoip"
	"github.com/farmwatch/farmwatch/server/loadgen"
	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/store"
)

// floorAgent is the collector's AgentService with storing taken out: an upload is received
// (TLS, HTTP/2, the collector's codec), authenticated and rate-limited by the collector's own
// interceptors, validated, and acknowledged without being stored, scored or analysed. What
// the load generator sustains against it is the ceiling any collector on this transport can
// reach on this machine. It exists only in this benchmark.
type floorAgent struct{ *Collector }

func (f floorAgent) UploadReport(_ context.Context, req *pb.UploadReportRequest) (*pb.UploadReportResponse, error) {
	rep := req.GetReport()
	if err := ValidateReport(rep); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "report: %v", err)
	}
	seq := rep.GetSequence()
	return &pb.UploadReportResponse{Stored: true, Sequence: seq, HighestSequence: seq}, nil
}

// BenchmarkIngestFloor runs the load generator (2,000 enrolled devices with their own
// certificates, 64 uploads in flight, heartbeats, the scenario corpus) in this process
// against two collectors, each in a child process (this test binary again, see
// TestIngestFloorServer) on loopback, for a 5 s warm-up and a 20 s window:
//
//   - transport: the collector's listener, TLS, gRPC options, codec and interceptors, with
//     floorAgent's UploadReport (nothing stored): the floor of ingest on this machine;
//   - collector: the real collector on SQLite, as `serve` runs it (settle every 15 s, the
//     bundled geolocation data when var/geoip holds it);
//   - transport/rate=5000: the floor again, in an open loop at 5,000 uploads/s (the rate of
//     the acknowledgement-latency target), every device free to have an upload in flight.
//
// Its metrics are the window's acknowledged reports per second, the latency percentiles, and
// the CPU per report of the server process and of the load generator. Run:
//
//	go test ./server/collector -run '^$' -bench IngestFloor -benchtime 1x -count 2
//
// FARMWATCH_FLOOR_CPUPROFILE=PREFIX writes each server process's CPU profile (enrollment and
// warm-up included) to PREFIX.MODE.PID.
func BenchmarkIngestFloor(b *testing.B) {
	if testing.Short() {
		b.Skip("three 25 s load runs")
	}
	corpus, err := loadgen.LoadCorpus(filepath.Join("..", "eval", "testdata", "scenarios"), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, arm := range []struct {
		mode string
		rate float64 // 0: closed loop of 64
	}{{"transport", 0}, {"collector", 0}, {"transport", 5000}} {
		name := arm.mode
		if arm.rate > 0 {
			name += fmt.Sprintf("/rate=%.0f", arm.rate)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				floorRun(b, arm.mode, arm.rate, corpus)
			}
		})
	}
}

func floorRun(b *testing.B, mode string, rate float64, corpus []loadgen.Sample) {
	b.StopTimer()
	dir := b.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIngestFloorServer$", "-test.bench=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FARMWATCH_FLOOR_SERVE="+mode, "FARMWATCH_FLOOR_DIR="+dir)
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	stdin, err := cmd.StdinPipe() // the server runs until this closes
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	var ready []byte
	for i := 0; ; i++ {
		if ready, err = os.ReadFile(filepath.Join(dir, "ready")); err == nil || i == 300 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	addr, secret, ok := strings.Cut(string(ready), "\n")
	if !ok {
		out, _ := os.ReadFile(logf.Name())
		b.Fatalf("the %s server did not start:\n%s", mode, out)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, pki.CACertFile))
	if err != nil {
		b.Fatal(err)
	}
	pid := cmd.Process.Pid
	concurrency := 64
	if rate > 0 {
		concurrency = 2000 // open loop: every device may have an upload in flight
	}
	var srvOpen, srvWindow, selfOpen, selfWindow float64
	res, err := loadgen.Run(context.Background(), loadgen.Config{Server: addr, CAPEM: caPEM, Secret: secret, Corpus: corpus,
		Devices: 2000, Concurrency: concurrency, Rate: rate, Warmup: 5 * time.Second, Duration: 20 * time.Second,
		HeartbeatInterval: time.Minute, EnrollConcurrency: 8, AgentVersion: "farmwatch-loadgen/floor",
		OnWindow: func(open bool) {
			if open {
				srvOpen, selfOpen = loadgen.ProcessCPU(pid), loadgen.ProcessCPU(os.Getpid())
				b.StartTimer()
			} else {
				b.StopTimer()
				srvWindow, selfWindow = loadgen.ProcessCPU(pid)-srvOpen, loadgen.ProcessCPU(os.Getpid())-selfOpen
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Errors) > 0 || res.AckedWindow == 0 {
		b.Fatalf("%s: %d acknowledged in the window, errors %v", mode, res.AckedWindow, res.Errors)
	}
	n := float64(res.AckedWindow)
	b.ReportMetric(res.Throughput, "reports/s")
	b.ReportMetric(res.LatencyP50, "p50-ms")
	b.ReportMetric(res.LatencyP99, "p99-ms")
	b.ReportMetric(srvWindow/n*1e6, "server-µs/report")
	b.ReportMetric(selfWindow/n*1e6, "loadgen-µs/report")
	b.ReportMetric(srvWindow/res.Window, "server-cores")
}

// TestIngestFloorServer is BenchmarkIngestFloor's server process: with FARMWATCH_FLOOR_SERVE
// set (transport or collector) it serves on loopback from FARMWATCH_FLOOR_DIR, writes its
// address and an enroll secret to DIR/ready, and runs until its standard input closes.
// Without it, it skips.
func TestIngestFloorServer(t *testing.T) {
	mode, dir := os.Getenv("FARMWATCH_FLOOR_SERVE"), os.Getenv("FARMWATCH_FLOOR_DIR")
	if mode == "" || dir == "" {
		t.Skip("BenchmarkIngestFloor's server process")
	}
	ctx := context.Background()
	ca, _, err := pki.LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := Options{Store: st, CA: ca, SettleEvery: 15 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limits: Limits{InFlight: 100000, DeviceRate: 1e6, DeviceBurst: 1e6, IdleClose: -1}}
	if db, err := geoip.Open(filepath.Join("..", "..", "var", "geoip")); err == nil {
		o.Geo = db
	} else {
		o.GeoDisabled = err.Error()
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := c.TLSConfig([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(c.serverOptions(tlsConf)...)
	pb.RegisterEnrollmentServiceServer(gs, c)
	switch mode {
	case "transport":
		pb.RegisterAgentServiceServer(gs, floorAgent{c})
	case "collector":
		pb.RegisterAgentServiceServer(gs, c)
	default:
		t.Fatalf("FARMWATCH_FLOOR_SERVE=%q: want transport or collector", mode)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(c.Listen(l))
	defer gs.Stop()
	secret := "fwe_floor_" + mode
	if err := st.CreateEnrollSecret(ctx, store.EnrollSecret{ID: "es_floor", Name: "floor", Hash: HashSecret(secret), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(l.Addr().String()+"\n"+secret), 0o600); err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("FARMWATCH_FLOOR_CPUPROFILE"); p != "" {
		f, err := os.Create(fmt.Sprintf("%s.%s.%d", p, mode, os.Getpid()))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}
