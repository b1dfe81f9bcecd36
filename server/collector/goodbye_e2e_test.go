package collector_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A stop and an uninstall without the token become agent.tamper findings and are audited;
// an upgrade does not; a made-up reason is refused.
func TestGoodbye(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	conn := agentConn(t, a)
	for _, r := range []*pb.GoodbyeRequest{
		{Reason: "upgrade", Actor: "package manager"},
		{Reason: "stop", Actor: "root via systemctl " + strings.Repeat("é", 200)},
		{Reason: "uninstall", Actor: "mallory", Authorized: false, LastSequence: 1},
	} {
		if _, err := conn.Goodbye(ctx, r); err != nil {
			t.Fatalf("%s: %v", r.GetReason(), err)
		}
	}
	if _, err := conn.Goodbye(ctx, &pb.GoodbyeRequest{Reason: "vacation"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad reason: %v", err)
	}
	fs, _ := c.st.Findings(ctx, a.rec.DeviceID)
	got := map[string]pb.Severity{}
	for _, f := range fs {
		if f.Signal == "agent.tamper" {
			got[f.Key] = f.Severity
			if !strings.HasPrefix(f.Key, "agent.tamper|goodbye:") || len(f.Evidence["actor"]) > 200 {
				t.Errorf("finding %+v", f)
			}
		}
	}
	if got["agent.tamper|goodbye:stop"] != pb.Severity_SEVERITY_MEDIUM || got["agent.tamper|goodbye:uninstall"] != pb.Severity_SEVERITY_HIGH || len(got) != 2 {
		t.Fatalf("tamper findings = %v", got)
	}
	log, _ := c.st.AuditLog(ctx, 10)
	n := 0
	for _, e := range log {
		if e.Action == "agent.goodbye" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d goodbyes audited, want 3", n)
	}
	// The next report keeps the collector's finding.
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	fs, _ = c.st.Findings(ctx, a.rec.DeviceID)
	kept := false
	for _, f := range fs {
		kept = kept || f.Key == "agent.tamper|goodbye:uninstall"
	}
	if !kept {
		t.Fatal("goodbye finding lost at the next report")
	}
}
