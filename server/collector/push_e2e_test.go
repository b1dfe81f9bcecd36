package collector_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/agent/client"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/collector"
)

// Past the push-stream cap an agent still gets the pushed catalog and a requested scan: with
// its heartbeats. Real runners against a real collector.
func TestPushesComeWithHeartbeatsPastTheStreamCap(t *testing.T) {
	const version = "2099.2.2-test"
	doc := `{"version":"` + version + `","os_remote_listeners":[{"id":"testvnc","name":"Test VNC","ports":[1],"attack":"T1021.005"}]}`
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) {
		o.Catalog = []byte(doc)
		o.Limits.PushStreams = 1
	})
	secret := c.secret("s")
	agents := []*testAgent{enrollAgent(t, c, secret), enrollAgent(t, c, secret)}
	ctx, stop := context.WithCancel(ctxT(t))
	done := make(chan error, len(agents))
	for _, a := range agents {
		a.r.Heartbeat = 300 * time.Millisecond
		go func() { done <- a.r.Run(ctx) }()
	}
	defer func() {
		stop()
		for range agents {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()
	for i, a := range agents {
		waitFor(t, "catalog of agent "+string(rune('A'+i)), func() bool { return a.r.Scanner.Catalog().Version == version })
	}
	if n := len(c.col.Connected()); n != 1 {
		t.Fatalf("%d push streams open, want the cap of 1", n)
	}
	streaming := c.col.Connected()[0]
	for _, a := range agents {
		id := a.rec.DeviceID
		before := reportCount(t, c, id)
		live := c.col.Push(id, &pb.Push{Id: "scan-" + id, Kind: &pb.Push_ScanNow{ScanNow: &pb.ScanNow{Reason: "cap test"}}})
		if live != (id == streaming) {
			t.Fatalf("device %s: pushed live %v, streaming device %s", id, live, streaming)
		}
		waitFor(t, "the requested scan's report from "+id, func() bool { return reportCount(t, c, id) > before })
	}
}

func reportCount(t *testing.T, c *testCollector, id string) int {
	t.Helper()
	d, err := c.st.Device(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.Reports
}

// A heartbeat answer carries the updates the agent lacks and a waiting scan once; an agent
// that does not report its catalog version (older than pushes in heartbeats) gets none.
func TestHeartbeatAnswerCarriesPushes(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) { o.Limits.PushStreams = -1 })
	a := enrollAgent(t, c, c.secret("s"))
	conn := agentConn(t, a)
	ctx := ctxT(t)

	stream, err := conn.Subscribe(ctx, &pb.SubscribeRequest{CatalogVersion: "old"})
	if err == nil {
		_, err = stream.Recv()
	}
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || len(st.Details()) == 0 {
		t.Fatalf("subscribe with no streams allowed: %v (details %v)", err, st.Details())
	}

	kinds := func(req *pb.HeartbeatRequest) []string {
		t.Helper()
		resp, err := conn.Heartbeat(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range resp.GetPushes() {
			switch {
			case p.GetCatalog() != nil:
				out = append(out, "catalog")
			case p.GetPolicy() != nil:
				out = append(out, "policy")
			case p.GetScanNow() != nil:
				out = append(out, "scan:"+p.GetScanNow().GetReason())
			}
		}
		return out
	}
	if c.col.Push(a.rec.DeviceID, &pb.Push{Kind: &pb.Push_ScanNow{ScanNow: &pb.ScanNow{Reason: "first"}}}) {
		t.Fatal("pushed live without a stream")
	}
	c.col.Push(a.rec.DeviceID, &pb.Push{Kind: &pb.Push_ScanNow{ScanNow: &pb.ScanNow{Reason: "second"}}})
	if got := kinds(&pb.HeartbeatRequest{}); len(got) != 0 {
		t.Fatalf("agent without a catalog version got %v", got)
	}
	got := kinds(&pb.HeartbeatRequest{CatalogVersion: "old", PolicyVersion: "old"})
	if len(got) != 3 || got[0] != "catalog" || got[1] != "policy" || got[2] != "scan:second" {
		t.Fatalf("pushes %v, want catalog, policy and the latest scan", got)
	}
	if got := kinds(&pb.HeartbeatRequest{CatalogVersion: "old", PolicyVersion: "old"}); len(got) != 2 {
		t.Fatalf("second heartbeat: pushes %v, want the catalog and policy again and no scan", got)
	}
}

// The collector closes a connection with no call in flight after IdleClose; one holding a push
// stream stays open, and a closed one reconnects on the next call.
func TestIdleConnectionsAreClosed(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) { o.Limits.IdleClose = time.Second })
	a := enrollAgent(t, c, c.secret("s"))
	roots, cert := a.identity(t)
	dial := func() (*grpc.ClientConn, pb.AgentServiceClient) {
		cc, err := grpc.NewClient("passthrough:///"+c.addr, grpc.WithTransportCredentials(credentialsFor(roots, cert)),
			grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc, pb.NewAgentServiceClient(cc)
	}
	ctx := ctxT(t)
	idle, idleClient := dial()
	streaming, streamClient := dial()
	if _, err := idleClient.Heartbeat(ctx, &pb.HeartbeatRequest{}); err != nil {
		t.Fatal(err)
	}
	stream, err := streamClient.Subscribe(ctx, &pb.SubscribeRequest{CatalogVersion: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the catalog update
		t.Fatal(err)
	}
	waitFor(t, "the idle connection closed by the collector", func() bool { return idle.GetState() == connectivity.Idle })
	time.Sleep(1500 * time.Millisecond)
	if s := streaming.GetState(); s != connectivity.Ready {
		t.Fatalf("connection holding a push stream: %s, want READY", s)
	}
	if _, err := idleClient.Heartbeat(ctx, &pb.HeartbeatRequest{}); err != nil {
		t.Fatalf("heartbeat after the idle close: %v", err)
	}
}

// After an idle close the agent's next call resumes its TLS session (no signatures), and the
// collector still knows the device; a new certificate starts a full handshake.
func TestReconnectResumesTheTLSSession(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) { o.Limits.IdleClose = time.Second })
	a := enrollAgent(t, c, c.secret("s"))
	conn := agentConn(t, a)
	ctx := ctxT(t)
	resumed := func() bool { return heartbeatResumed(t, ctx, conn) }
	if resumed() {
		t.Fatal("first connection resumed a session")
	}
	before := c.col.OpenConnections()
	waitFor(t, "idle close", func() bool { return c.col.OpenConnections() < before })
	if !resumed() {
		t.Fatal("reconnect after the idle close did not resume the TLS session")
	}
	cert, _, err := a.dir.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	conn.SetCertificate(&cert)
	before = c.col.OpenConnections()
	waitFor(t, "idle close", func() bool { return c.col.OpenConnections() < before })
	if resumed() {
		t.Fatal("resumed a session after the certificate changed")
	}
}

// At MaxConnections the collector accepts no more connections until one closes.
func TestConnectionCap(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) { o.Limits.MaxConnections = 1 })
	a, b := enrollAgent(t, c, c.secret("a")), enrollAgent(t, c, c.secret("b"))
	// Enrollment's connections close after the idle close.
	waitFor(t, "enrollment connections closed", func() bool { return c.col.OpenConnections() == 0 })
	ctx := ctxT(t)
	holding, cancel := context.WithCancel(ctx)
	stream, err := agentConn(t, a).Subscribe(holding, &pb.SubscribeRequest{CatalogVersion: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	connB := agentConn(t, b)
	short, stop := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, err = connB.Heartbeat(short, &pb.HeartbeatRequest{})
	stop()
	if err == nil {
		t.Fatal("a second connection was served past a cap of 1")
	}
	if n := c.col.OpenConnections(); n != 1 {
		t.Fatalf("%d connections open, want 1", n)
	}
	cancel() // the stream ends; its connection closes after the idle close
	if _, err := connB.Heartbeat(ctx, &pb.HeartbeatRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("heartbeat once a slot is free: %v", err)
	}
}

// Session-ticket keys come from the CA key: an agent resumes its TLS session with a restarted
// collector (or another replica holding the same CA).
func TestSessionResumesAcrossCollectorRestart(t *testing.T) {
	dir := t.TempDir()
	c := startCollector(t, dir, "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("s"))
	conn := agentConn(t, a)
	ctx := ctxT(t)
	resumed := func() bool { return heartbeatResumed(t, ctx, conn) }
	if resumed() {
		t.Fatal("first connection resumed")
	}
	c.stop()
	if restarted := startCollector(t, dir, c.addr); restarted.addr != c.addr {
		t.Fatalf("restarted on %s, want %s", restarted.addr, c.addr)
	}
	if !resumed() {
		t.Fatal("the agent did not resume its session with the restarted collector")
	}
}

// heartbeatResumed sends a heartbeat (waiting for the collector to be up) and says whether its
// connection resumed a TLS session.
func heartbeatResumed(t *testing.T, ctx context.Context, conn *client.Conn) bool {
	t.Helper()
	var p peer.Peer
	if _, err := conn.Heartbeat(ctx, &pb.HeartbeatRequest{}, grpc.Peer(&p), grpc.WaitForReady(true)); err != nil {
		t.Fatal(err)
	}
	return p.AuthInfo.(credentials.TLSInfo).State.DidResume
}
