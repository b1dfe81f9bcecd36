package collector_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/client"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/pki"
)

// A CA rotation end to end, with collector restarts between the steps: agents pin the staged
// CA from a heartbeat, keep working across the promotion with their old certificates, renew
// into the new CA, and drop the old CA when the rotation finishes. An agent that was away from
// stage to promote gets a clear error.
func TestCARotation(t *testing.T) {
	dir := t.TempDir()
	c := startCollector(t, dir, "127.0.0.1:0")
	addr := c.addr
	a := enrollAgent(t, c, c.secret("default"))
	away := enrollAgent(t, c, c.secret("second"))
	ctx := ctxT(t)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	oldCA := c.ca.Cert
	pinned := func(want int) {
		t.Helper()
		certs, err := a.dir.CACerts()
		if err != nil || len(certs) != want {
			t.Fatalf("agent pins %d CAs (%v), want %d", len(certs), err, want)
		}
	}
	pinned(1)

	// 1. Stage.
	c.stop()
	next, err := pki.StageNext(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.StageNext(dir, time.Now()); err == nil {
		t.Fatal("staged twice")
	}
	c = startCollector(t, dir, addr)
	if err := a.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	pinned(2)
	if err := a.r.Sync(ctx); err != nil { // the next heartbeat says so
		t.Fatal(err)
	}
	if yes, no, err := c.st.PinningCounts(ctx, pki.Fingerprint(next), time.Now().Add(-time.Hour)); err != nil || yes != 1 || no != 1 {
		t.Fatalf("pinning counts %d/%d (%v), want 1 pinning and the away agent not", yes, no, err)
	}

	// 2. Promote: the new CA signs the collector's certificate; old device certificates work.
	c.stop()
	if err := pki.Promote(dir); err != nil {
		t.Fatal(err)
	}
	c = startCollector(t, dir, addr)
	if !c.ca.Cert.Equal(next) || !c.ca.Previous.Equal(oldCA) {
		t.Fatal("promotion did not swap the CAs")
	}
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatalf("agent after promotion, with its old certificate: %v", err)
	}
	if err := a.r.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	_, cert, err := a.dir.Certificate()
	if err != nil || cert.Issuer.String() != next.Subject.String() {
		t.Fatalf("renewed certificate issued by %v (%v), want the new CA", cert.Issuer, err)
	}
	err = away.r.Sync(ctx)
	if err == nil || !strings.Contains(err.Error(), "enroll it again") {
		t.Fatalf("agent that missed the rotation: %v", err)
	}

	// 3. Finish: the old CA is gone from the collector and from the agent's pins.
	c.stop()
	if err := pki.Finish(dir); err != nil {
		t.Fatal(err)
	}
	if err := pki.Finish(dir); err == nil {
		t.Fatal("finished twice")
	}
	c = startCollector(t, dir, addr)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatalf("agent after the rotation finished: %v", err)
	}
	if err := a.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	pinned(1)
	certs, _ := a.dir.CACerts()
	if !certs[0].Equal(next) {
		t.Fatal("agent pins the old CA")
	}
	// A device certificate from the old CA is refused now, even with the right roots.
	awayCert, _, err := away.dir.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := client.Dial(addr, c.ca.Pool(), &awayCert)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Heartbeat(ctx, &pb.HeartbeatRequest{AgentTime: timestamppb.Now()}); err == nil {
		t.Fatal("a certificate of the retired CA was accepted")
	}
}
