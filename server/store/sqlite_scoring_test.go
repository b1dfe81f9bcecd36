package store

import (
	"context"
	"errors"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestScoresGroupsClustersPolicies(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if err := s.CreateEnrollSecret(ctx, EnrollSecret{ID: "es_h", Name: "helpdesk-2026", Hash: []byte("h"), CreatedAt: t0, Group: "helpdesk"}); err != nil {
			t.Fatal(err)
		}
		a, b := "aaaa000000000001", "bbbb000000000002"
		err := s.Enroll(ctx, Enrollment{
			Device:      Device{ID: a, Hostname: "hd-01", EnrolledAt: t0, EnrollSecret: "es_h"},
			Certificate: Certificate{Serial: "101", DeviceID: a, NotBefore: t0, NotAfter: t0.Add(time.Hour), IssuedAt: t0},
		})
		if err != nil {
			t.Fatal(err)
		}
		enrollDevice(t, s, b)
		if d, _ := s.Device(ctx, a); d.Group != "helpdesk" {
			t.Fatalf("group from secret = %q", d.Group)
		}
		if err := s.SetDeviceGroup(ctx, b, "engineering"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetScore(ctx, b, Score{Value: 87.5, Band: "critical", Breakdown: []byte(`{"score":87.5}`), PolicyVersion: "sha256:abc", At: t0}); err != nil {
			t.Fatal(err)
		}
		d, _ := s.Device(ctx, b)
		if d.Group != "engineering" || d.Score != 87.5 || d.Band != "critical" || string(d.Breakdown) != `{"score":87.5}` || d.PolicyVersion != "sha256:abc" {
			t.Fatalf("device = %+v", d)
		}
		if err := s.SetScore(ctx, "ffff", Score{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown device: %v", err)
		}
		if ds, _, _ := s.Devices(ctx, DeviceFilter{Sort: "score", Desc: true}); ds[0].ID != b {
			t.Fatalf("sort by score: %v", ds[0].ID)
		}
		ids, _ := s.DeviceIDs(ctx)
		if len(ids) != 2 {
			t.Fatalf("ids = %v", ids)
		}

		c := Cluster{ID: "c_1", Members: []string{a, b}, Kinds: []string{"egress"}, First: t0, Last: t0.Add(time.Hour),
			Links: []ClusterLink{{Kind: "egress", Value: "198.51.100.7", Devices: []string{a, b}, First: t0, Last: t0.Add(time.Hour)}}}
		f := func(dev string) []*pb.Finding {
			return []*pb.Finding{{Signal: "fleet.shared_egress", Key: "c_1:egress", Severity: pb.Severity_SEVERITY_HIGH, Confidence: 0.8, Title: "shares an egress", Evidence: map[string]string{"cluster": "c_1"}}}
		}
		fs := map[string][]*pb.Finding{a: f(a), b: f(b), "unknowndevice": f("x")}
		if err := s.ReplaceFleet(ctx, []Cluster{c}, fs, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		cs, _ := s.Clusters(ctx)
		if len(cs) != 1 || cs[0].Links[0].Value != "198.51.100.7" || len(cs[0].Members) != 2 {
			t.Fatalf("clusters = %+v", cs)
		}
		got, _ := s.Findings(ctx, a)
		if len(got) != 1 || got[0].Detector != DetectorFleet || got[0].Source != "collector" {
			t.Fatalf("fleet findings = %+v", got)
		}
		// Location findings and fleet findings replace independently.
		if err := s.ReplaceCollectorFindings(ctx, a, []*pb.Finding{{Signal: "location.clock", Key: "skew", Detector: DetectorLocation}}, nil, t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Findings(ctx, a); len(got) != 2 {
			t.Fatalf("after location: %+v", got)
		}
		if err := s.ReplaceFleet(ctx, nil, nil, t0.Add(4*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.Findings(ctx, a); len(got) != 1 || got[0].Signal != "location.clock" {
			t.Fatalf("after fleet cleared: %+v", got)
		}
		if d, _ := s.Device(ctx, a); d.FindingsCount != 1 {
			t.Fatalf("findings_count = %d", d.FindingsCount)
		}

		for i, v := range []string{"v1", "v2", "v1"} {
			if err := s.SavePolicy(ctx, PolicyRecord{Version: v, Content: []byte(v), CreatedAt: t0, CreatedBy: "test", ActivatedAt: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		ps, _ := s.Policies(ctx, 10)
		if len(ps) != 2 || ps[0].Version != "v1" || !ps[0].ActivatedAt.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("policies = %+v", ps)
		}
	})
}
