package store

import (
	"context"
	"errors"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestCollectorFindingsBesideAgentFindings(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		id := "d1a2b3c4d5e6f7a8"
		enrollDevice(t, s, id)
		ingest(t, s, id, report(1, &pb.Finding{Signal: "remote_tool.running", Key: "anydesk", Title: "AnyDesk", Severity: pb.Severity_SEVERITY_MEDIUM}))
		loc := &pb.Finding{Signal: "location.tz_mismatch", Key: "egress", Title: "zone vs egress", Severity: pb.Severity_SEVERITY_HIGH, Detector: "collector/location",
			Evidence: map[string]string{"zone": "America/New_York", "egress_country": "KP"}}
		if err := s.ReplaceCollectorFindings(ctx, id, []*pb.Finding{loc}, []string{"no HR record"}, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		fs, err := s.Findings(ctx, id)
		if err != nil || len(fs) != 2 || fs[0].Signal != "location.tz_mismatch" || fs[0].Source != "collector" || fs[1].Source != "agent" {
			t.Fatalf("findings = %+v, %v", fs, err)
		}
		d, _ := s.Device(ctx, id)
		if d.FindingsCount != 2 || len(d.LocationNotes) != 1 || d.LocationNotes[0] != "no HR record" {
			t.Fatalf("findings_count = %d, notes %q", d.FindingsCount, d.LocationNotes)
		}
		// A new report replaces the agent's findings only.
		ingest(t, s, id, report(2))
		fs, _ = s.Findings(ctx, id)
		if len(fs) != 1 || fs[0].Source != "collector" {
			t.Fatalf("after report 2: %+v", fs)
		}
		if d, _ := s.Device(ctx, id); d.FindingsCount != 1 {
			t.Fatalf("findings_count = %d, want 1", d.FindingsCount)
		}
		// Re-deriving keeps first_seen; an empty set clears them.
		if err := s.ReplaceCollectorFindings(ctx, id, []*pb.Finding{loc}, nil, t0.Add(5*time.Hour)); err != nil {
			t.Fatal(err)
		}
		fs, _ = s.Findings(ctx, id)
		if !fs[0].FirstSeen.Equal(t0.Add(2*time.Hour)) || !fs[0].LastSeen.Equal(t0.Add(5*time.Hour)) {
			t.Fatalf("first/last = %v/%v", fs[0].FirstSeen, fs[0].LastSeen)
		}
		if err := s.ReplaceCollectorFindings(ctx, id, nil, nil, t0.Add(6*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if fs, _ = s.Findings(ctx, id); len(fs) != 0 {
			t.Fatalf("cleared: %+v", fs)
		}
		if err := s.ReplaceCollectorFindings(ctx, "0000000000000000", nil, nil, t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown device: %v", err)
		}
	})
}

func TestPeopleReplaceAndMatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		id := "aa11bb22cc33dd44"
		enrollDevice(t, s, id)
		people := []Person{
			{EmployeeID: "E1", Name: "Ada", Country: "US", TimeZone: "America/New_York", HasCoordinates: true, Latitude: 40.7, Longitude: -74, Languages: []string{"en"}, DeviceHostname: "LAPTOP-AA11"},
			{EmployeeID: "E2", Name: "Bo", Country: "US", DeviceSerial: "SER-2", NightShift: true},
		}
		if err := s.ReplacePeople(ctx, people, t0); err != nil {
			t.Fatal(err)
		}
		d, _ := s.Device(ctx, id)
		p, err := s.PersonForDevice(ctx, d)
		if err != nil || p.EmployeeID != "E1" || !p.HasCoordinates || p.Latitude != 40.7 || len(p.Languages) != 1 {
			t.Fatalf("person = %+v, %v", p, err)
		}
		p, err = s.PersonForDevice(ctx, Device{ID: "x", SerialNumber: "SER-2"})
		if err != nil || p.EmployeeID != "E2" || !p.NightShift || p.HasCoordinates {
			t.Fatalf("by serial = %+v, %v", p, err)
		}
		if _, err := s.PersonForDevice(ctx, Device{ID: "x", Hostname: "nobody"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no match: %v", err)
		}
		// A failing import (duplicate id) changes nothing.
		if err := s.ReplacePeople(ctx, []Person{{EmployeeID: "E9"}, {EmployeeID: "E9"}}, t0); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate: %v", err)
		}
		if all, _ := s.People(ctx); len(all) != 2 {
			t.Fatalf("people after failed import = %d", len(all))
		}
	})
}

func TestEgressAndRTT(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		id := "ab12cd34ef56ab78"
		enrollDevice(t, s, id)
		e, err := s.RecordEgress(ctx, id, Egress{Address: "175.45.176.9", LastSeen: t0, Country: "KP", ASN: 131279, Class: ""})
		if err != nil || e.Seen != 1 || e.Country != "KP" || !e.FirstSeen.Equal(t0) {
			t.Fatalf("egress = %+v, %v", e, err)
		}
		e, _ = s.RecordEgress(ctx, id, Egress{Address: "175.45.176.9", LastSeen: t0.Add(time.Hour), Country: "ignored"})
		if e.Seen != 2 || e.Country != "KP" || !e.LastSeen.Equal(t0.Add(time.Hour)) {
			t.Fatalf("second sighting = %+v", e)
		}
		s.RecordEgress(ctx, id, Egress{Address: "8.8.8.8", LastSeen: t0.Add(2 * time.Hour), Country: "US"})
		if es, _ := s.Egresses(ctx, id); len(es) != 2 || es[0].Address != "8.8.8.8" {
			t.Fatalf("egresses = %+v", es)
		}
		if _, err := s.RecordEgress(ctx, "ffffffffffffffff", Egress{Address: "1.1.1.1", LastSeen: t0}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown device: %v", err)
		}

		week := 7 * 24 * time.Hour
		if r, _ := s.RTT(ctx, id); r.Samples != 0 {
			t.Fatalf("no rtt yet: %+v", r)
		}
		s.RecordRTT(ctx, id, 80*time.Millisecond, "a", t0, week)
		s.RecordRTT(ctx, id, 60*time.Millisecond, "b", t0.Add(time.Hour), week)
		r, _ := s.RecordRTT(ctx, id, 90*time.Millisecond, "c", t0.Add(2*time.Hour), week)
		if r.Min != 60*time.Millisecond || r.Samples != 3 || r.Address != "b" {
			t.Fatalf("rtt = %+v", r)
		}
		// After the window a new minimum starts.
		r, _ = s.RecordRTT(ctx, id, 120*time.Millisecond, "d", t0.Add(week+time.Hour), week)
		if r.Min != 120*time.Millisecond || r.Samples != 1 || !r.WindowStart.Equal(t0.Add(week+time.Hour)) {
			t.Fatalf("new window = %+v", r)
		}
	})
}
