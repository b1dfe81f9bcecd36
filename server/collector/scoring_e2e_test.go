package collector_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/score"
)

// Two real agents on one machine share its default gateway: the collector clusters them,
// gives both fleet findings, scores them with a breakdown, and rescores on a policy change
// that it records and audits.
func TestEndToEndScoresClustersAndPolicy(t *testing.T) {
	var mu sync.Mutex
	var events []collector.Event
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) {
		o.OnEvent = func(e collector.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	eventOf := func(kind string) *collector.Event {
		mu.Lock()
		defer mu.Unlock()
		for i := range events {
			if events[i].Kind == kind {
				return &events[i]
			}
		}
		return nil
	}
	secret := c.secret("default")
	a, b := enrollAgent(t, c, secret), enrollAgent(t, c, secret)
	ctx := ctxT(t)
	for _, ag := range []*testAgent{a, b} {
		if err := ag.r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.col.Settled() // scores follow the answer
	d, err := c.st.Device(ctx, a.rec.DeviceID)
	if err != nil || d.Band == "" || len(d.Breakdown) == 0 || d.PolicyVersion != policy.Default().Version() {
		t.Fatalf("device not scored after its report: %+v %v", d, err)
	}
	var r score.Result
	if err := json.Unmarshal(d.Breakdown, &r); err != nil || r.Score != d.Score {
		t.Fatalf("breakdown %s: %v", d.Breakdown, err)
	}

	facts, _, _ := c.st.Facts(ctx, a.rec.DeviceID)
	gatewayMAC := ""
	for _, g := range facts.GetLan().GetGateways() {
		if g.GetMac() != "" {
			gatewayMAC = g.GetMac()
		}
	}
	if gatewayMAC != "" {
		if err := c.col.Correlate(ctx); err != nil {
			t.Fatal(err)
		}
		cs, _ := c.st.Clusters(ctx)
		if len(cs) != 1 || len(cs[0].Members) != 2 {
			t.Fatalf("clusters = %+v", cs)
		}
		fs, _ := c.st.Findings(ctx, a.rec.DeviceID)
		found := false
		for _, f := range fs {
			found = found || (f.Signal == "fleet.shared_gateway" && f.Evidence["cluster"] == cs[0].ID)
		}
		if !found {
			t.Fatalf("no fleet.shared_gateway finding: %+v", fs)
		}
		if d2, _ := c.st.Device(ctx, a.rec.DeviceID); d2.Score <= d.Score {
			t.Fatalf("the cluster did not raise the score: %.1f -> %.1f", d.Score, d2.Score)
		}
		if e := eventOf("new_cluster"); e == nil || e.Cluster == nil || e.Cluster.ID != cs[0].ID {
			t.Fatalf("no new_cluster event: %+v", events)
		}
	} else {
		t.Log("this machine's default gateway has no MAC in the neighbour table: clustering not exercised here")
	}

	// A new policy: recorded, audited, in force, and every device rescored under it.
	p, err := policy.Parse([]byte("schema: 1\nbands: {medium: 1, high: 2, critical: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.col.SetPolicy(ctx, p, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "devices rescored under the new policy", func() bool {
		d, _ := c.st.Device(ctx, b.rec.DeviceID)
		return d.PolicyVersion == p.Version()
	})
	if e := eventOf("band_change"); e == nil || e.To == "" {
		t.Fatalf("no band_change event after the bands moved: %+v", events)
	}
	if n := c.col.Counters()["reports_stored"]; n != 2 {
		t.Fatalf("reports_stored = %d", n)
	}
	ps, _ := c.st.Policies(ctx, 10)
	if len(ps) != 1 || ps[0].Version != p.Version() || ps[0].CreatedBy != "test" {
		t.Fatalf("policy history = %+v", ps)
	}
	log, _ := c.st.AuditLog(ctx, 10)
	audited := false
	for _, e := range log {
		audited = audited || (e.Action == "policy.activate" && e.Target == p.Version())
	}
	if !audited {
		t.Fatalf("policy change not audited: %+v", log)
	}
}
