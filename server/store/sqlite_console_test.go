package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestTriageNotesTokensFiltersOverview(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		a, b := "aaaa111100000001", "bbbb222200000002"
		enrollDevice(t, s, a)
		enrollDevice(t, s, b)
		ingest(t, s, a, report(1, &pb.Finding{Signal: "kvm.usb", Key: "pikvm", Severity: pb.Severity_SEVERITY_HIGH}))
		s.SetScore(ctx, a, Score{Value: 82, Band: "critical", At: t0.Add(time.Hour)})
		s.SetScore(ctx, b, Score{Value: 12, Band: "low", At: t0})
		s.SetDeviceGroup(ctx, b, "helpdesk")

		if err := s.SetTriage(ctx, a, Triage{State: TriageInvestigating, Reason: "KVM seen", Assignee: "ana", By: "bo", At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetTriage(ctx, a, Triage{State: "guilty"}); err == nil {
			t.Fatal("bad triage state accepted")
		}
		if err := s.SetTriage(ctx, "nope", Triage{State: TriageBenign}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown device: %v", err)
		}
		d, _ := s.Device(ctx, a)
		if d.Triage.State != TriageInvestigating || d.Triage.Assignee != "ana" || !d.Triage.At.Equal(t0) {
			t.Fatalf("triage = %+v", d.Triage)
		}

		if _, err := s.AddNote(ctx, Note{DeviceID: a, At: t0, Author: "bo", Body: "called the employee"}); err != nil {
			t.Fatal(err)
		}
		s.AddNote(ctx, Note{DeviceID: a, At: t0.Add(time.Minute), Author: "ana", Body: "<b>shipping label</b>"})
		if _, err := s.AddNote(ctx, Note{DeviceID: "nope", At: t0}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("note on unknown device: %v", err)
		}
		if ns, _ := s.Notes(ctx, a); len(ns) != 2 || ns[0].Author != "ana" {
			t.Fatalf("notes = %+v", ns)
		}
		if rs, _ := s.Reports(ctx, a, 10); len(rs) != 1 || rs[0].Sequence != 1 || rs[0].Findings != 1 {
			t.Fatalf("reports = %+v", rs)
		}

		for name, f := range map[string]DeviceFilter{
			"band":     {Band: "critical"},
			"min band": {MinBand: "high"},
			"signal":   {Signal: "kvm.usb"},
			"family":   {Signal: "kvm.*"},
			"triage":   {Triage: TriageInvestigating},
		} {
			if ds, n, err := s.Devices(ctx, f); err != nil || n != 1 || ds[0].ID != a {
				t.Errorf("%s: %d %v", name, n, err)
			}
		}
		if ds, n, _ := s.Devices(ctx, DeviceFilter{Group: "helpdesk"}); n != 1 || ds[0].ID != b {
			t.Errorf("group: %d", n)
		}
		if _, n, _ := s.Devices(ctx, DeviceFilter{SeenSince: t0.Add(24 * time.Hour * 365)}); n != 0 {
			t.Errorf("seen since: %d", n)
		}
		if _, _, err := s.Devices(ctx, DeviceFilter{MinBand: "severe"}); err == nil {
			t.Error("unknown band accepted")
		}

		o, err := s.Overview(ctx, t0.Add(2*time.Hour), 30)
		if err != nil {
			t.Fatal(err)
		}
		if o.Devices != 2 || o.ByBand["critical"] != 1 || o.ScoreBins[8] != 1 || o.ScoreBins[1] != 1 || len(o.NewestHigh) != 1 || o.ByTriage[TriageNew] != 1 {
			t.Fatalf("overview = %+v", o)
		}
		if len(o.Signals) != 1 || o.Signals[0].Signal != "kvm.usb" || o.Signals[0].Count != 1 {
			t.Fatalf("signals over time = %+v", o.Signals)
		}

		h := sha256.Sum256([]byte("fwt_secret"))
		if err := s.CreateAPIToken(ctx, APIToken{ID: "tok_1", Name: "siem", Hash: h[:], Role: RoleViewer, CreatedAt: t0, CreatedBy: "cli"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAPIToken(ctx, APIToken{ID: "tok_2", Name: "x", Hash: []byte("y"), Role: "root"}); err == nil {
			t.Fatal("bad role accepted")
		}
		tok, err := s.APITokenByHash(ctx, h[:], t0.Add(time.Hour))
		if err != nil || tok.Role != RoleViewer || !tok.LastUsed.Equal(t0.Add(time.Hour)) {
			t.Fatalf("token = %+v %v", tok, err)
		}
		if err := s.RevokeAPIToken(ctx, "siem", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APITokenByHash(ctx, h[:], t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoked token still works: %v", err)
		}
	})
}

func TestUserDisableAndRole(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if err := s.CreateUser(ctx, User{Username: "ana", PasswordHash: "x", Role: RoleViewer, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, Session{IDHash: []byte("h"), Username: "ana", CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUserDisabled(ctx, "ana", true); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.User(ctx, "ana"); !u.Disabled {
			t.Fatal("not disabled")
		}
		if _, err := s.Session(ctx, []byte("h"), t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("session of a disabled user still live: %v", err)
		}
		if err := s.SetUserRole(ctx, "ana", RoleAnalyst); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.User(ctx, "ana"); u.Role != RoleAnalyst {
			t.Fatalf("role %q", u.Role)
		}
		if err := s.SetUserRole(ctx, "ana", "root"); err == nil {
			t.Fatal("bad role accepted")
		}
		if err := s.SetUserDisabled(ctx, "nobody", true); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}
