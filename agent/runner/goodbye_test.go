package runner

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/farmwatch/farmwatch/agent/client"
	"github.com/farmwatch/farmwatch/agent/config"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/state"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// goodbyeServer is a real AgentService on loopback that records goodbyes.
type goodbyeServer struct {
	pb.UnimplementedAgentServiceServer
	mu  sync.Mutex
	got []*pb.GoodbyeRequest
}

func (s *goodbyeServer) Goodbye(_ context.Context, req *pb.GoodbyeRequest) (*pb.GoodbyeResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, req)
	return &pb.GoodbyeResponse{}, nil
}

// dialInsecure connects to addr without TLS: the test server has no certificates, and the
// production client (TLS pinned to the collector CA) is agent/client's business.
func dialInsecure(t *testing.T, addr string) *client.Conn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return &client.Conn{AgentServiceClient: pb.NewAgentServiceClient(cc)}
}

func TestGoodbyeReachesTheCollector(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &goodbyeServer{}
	gs := grpc.NewServer()
	pb.RegisterAgentServiceServer(gs, srv)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)

	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for range 3 {
		if _, err := sp.Add(func(uint64) ([]byte, error) { return []byte("report"), nil }); err != nil {
			t.Fatal(err)
		}
	}
	r := &Runner{Spool: sp, conn: dialInsecure(t, lis.Addr().String())}
	before := time.Now()
	if err := r.Goodbye(context.Background(), "uninstall", "alice (via sudo)", true); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.got) != 1 {
		t.Fatalf("collector got %d goodbyes, want 1", len(srv.got))
	}
	g := srv.got[0]
	if g.GetReason() != "uninstall" || g.GetActor() != "alice (via sudo)" || !g.GetAuthorized() || g.GetLastSequence() != 3 {
		t.Errorf("goodbye %v, want uninstall by alice, authorized, last sequence 3", g)
	}
	if at := g.GetAt().AsTime(); at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("goodbye stamped %s, want now", at)
	}
}

func TestGoodbyeFailsFastWhenTheCollectorIsGone(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	r := &Runner{conn: dialInsecure(t, addr)}
	start := time.Now()
	err = r.Goodbye(context.Background(), "stop", "service manager", false)
	if err == nil {
		t.Fatal("goodbye to a closed port succeeded")
	}
	if d := time.Since(start); d > GoodbyeTimeout+time.Second {
		t.Errorf("goodbye took %s, want at most %s", d, GoodbyeTimeout)
	}
	if err := (&Runner{}).Goodbye(context.Background(), "stop", "", false); err == nil {
		t.Error("goodbye without a connection succeeded")
	}
}

func TestPolicyPushStoresTheUninstallToken(t *testing.T) {
	const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	dir, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{State: dir}
	r.defaults()
	push := func(version, doc string) {
		r.handlePush(&pb.Push{Id: version, Kind: &pb.Push_Policy{Policy: &pb.PolicyUpdate{Version: version, Content: []byte(doc)}}})
	}
	stored := func() (config.AgentPolicy, bool) {
		p, ok, err := config.LoadPolicy(dir.Path)
		if err != nil {
			t.Fatal(err)
		}
		return p, ok
	}

	push("v1", "schema: 1\nsignals: {relay: {weight: 2}}\n")
	if _, ok := stored(); ok {
		t.Fatal("a policy without an agent section wrote a policy file")
	}
	push("v2", "schema: 1\nagent:\n  uninstall_token_sha256: "+hash+"\n  something_new: yes\nbands: {high: 70}\n")
	if p, ok := stored(); !ok || p.UninstallTokenHash != hash || p.Version != "v2" {
		t.Fatalf("stored %+v %v, want v2's hash", p, ok)
	}
	if st, err := os.Stat(dir.File(config.PolicyFile)); err == nil && os.PathSeparator == '/' && st.Mode().Perm() != 0o600 {
		t.Errorf("policy file mode %v, want 0600", st.Mode())
	}
	push("v3", "agent:\n  uninstall_token_sha256: not-a-hash\n")
	if p, _ := stored(); p.UninstallTokenHash != hash || p.Version != "v2" {
		t.Errorf("a bad push replaced the stored token: %+v", p)
	}
	push("v4", "schema: 1\n")
	if p, _ := stored(); p.UninstallTokenHash != hash {
		t.Errorf("a policy without an agent section cleared the token: %+v", p)
	}
	push("v5", "agent:\n  uninstall_token_sha256: \"\"\n")
	if p, _ := stored(); p.UninstallTokenHash != "" || p.Version != "v5" {
		t.Errorf("an explicit empty token did not lift the requirement: %+v", p)
	}
}
