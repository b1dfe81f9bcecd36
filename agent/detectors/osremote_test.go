package detectors

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestOSRemoteSeesARealVNCListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:5901")
	if err != nil {
		t.Skipf("port 5901 busy on this machine: %v", err)
	}
	defer l.Close()
	dets, err := detect.New(nil, []string{"os_remote"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&scan.Scanner{Detectors: dets}).Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var hit *pb.Finding
	for _, f := range rep.GetFindings() {
		if f.GetSignal() == "os_remote.enabled" && f.GetEvidence()["listen"] == "127.0.0.1:5901" {
			hit = f
		}
	}
	if hit == nil {
		t.Fatalf("no os_remote.enabled finding for the listener; findings: %v", rep.GetFindings())
	}
	if hit.GetEvidence()["service"] != "vnc" || hit.GetAttack() != "T1021.005" || hit.GetDetector() != "os_remote" {
		t.Errorf("finding: %v", hit)
	}
	if hit.GetSeverity() != pb.Severity_SEVERITY_LOW || hit.GetEvidence()["recognised_by"] != "port 5901" {
		t.Errorf("loopback listener of an unknown process: severity %v, recognised_by %q", hit.GetSeverity(), hit.GetEvidence()["recognised_by"])
	}
	if hit.GetEvidence()["pid"] != itoa(os.Getpid()) {
		t.Errorf("pid %s, want %d", hit.GetEvidence()["pid"], os.Getpid())
	}
}

func TestOSRemoteRules(t *testing.T) {
	d, err := newOSRemote(nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	proc := func(name string, socks ...*pb.Socket) *pb.Process {
		return &pb.Process{Pid: 10, Name: name, Sockets: socks}
	}
	listen := func(proto, addr string, port uint32) *pb.Socket {
		return &pb.Socket{Protocol: proto, LocalAddress: addr, LocalPort: port, State: "LISTEN"}
	}
	for _, tc := range []struct {
		name     string
		procs    []*pb.Process
		want     int
		severity pb.Severity
		conf     float64
	}{
		{"xrdp on all addresses", []*pb.Process{proc("xrdp", listen("tcp", "0.0.0.0", 3389), listen("tcp6", "::", 3389))}, 1, pb.Severity_SEVERITY_MEDIUM, 0.9},
		{"unknown process on 5900", []*pb.Process{proc("python3", listen("tcp", "0.0.0.0", 5900))}, 1, pb.Severity_SEVERITY_MEDIUM, 0.6},
		{"outbound connection to 5900 is not a server", []*pb.Process{proc("vncviewer", &pb.Socket{Protocol: "tcp", LocalPort: 40000, RemotePort: 5900, State: "ESTABLISHED"})}, 0, 0, 0},
		{"udp is ignored", []*pb.Process{proc("x", listen("udp", "0.0.0.0", 3389))}, 0, 0, 0},
		{"other ports are ignored", []*pb.Process{proc("nginx", listen("tcp", "0.0.0.0", 443))}, 0, 0, 0},
	} {
		fs, err := d.Detect(context.Background(), &detect.Env{Facts: &pb.Facts{Processes: tc.procs}, Catalog: cat, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != tc.want {
			t.Errorf("%s: %d findings, want %d: %v", tc.name, len(fs), tc.want, fs)
			continue
		}
		if tc.want > 0 && (fs[0].GetSeverity() != tc.severity || fs[0].GetConfidence() != tc.conf) {
			t.Errorf("%s: severity %v confidence %v, want %v %v", tc.name, fs[0].GetSeverity(), fs[0].GetConfidence(), tc.severity, tc.conf)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
