package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func enrollDevice(t *testing.T, s Store, id string) {
	t.Helper()
	err := s.Enroll(context.Background(), Enrollment{
		Device:      Device{ID: id, Hostname: "laptop-" + id[:4], OS: "linux", EnrolledAt: t0, MACAddresses: []string{"52:54:00:12:34:56"}},
		Certificate: Certificate{Serial: "1" + id[:6], DeviceID: id, NotBefore: t0, NotAfter: t0.Add(24 * time.Hour), IssuedAt: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func report(seq uint64, findings ...*pb.Finding) *pb.Report {
	return &pb.Report{
		Sequence: seq,
		Created:  timestamppb.New(t0.Add(time.Duration(seq) * time.Minute)),
		Facts:    &pb.Facts{Host: &pb.HardwareIdentity{Hostname: "renamed-host", OsVersion: "12"}},
		Findings: findings,
	}
}

func ingest(t *testing.T, s Store, id string, r *pb.Report) IngestResult {
	t.Helper()
	body, _ := proto.Marshal(r)
	res, err := s.IngestReport(context.Background(), Ingest{DeviceID: id, Report: r, Body: body, Received: t0.Add(time.Hour), Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const (
	devA = "0123456789abcdef0123456789abcdef"
	devB = "fedcba9876543210fedcba9876543210"
)

func TestIngestIsIdempotentBySequence(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		enrollDevice(t, s, devA)
		f := &pb.Finding{Signal: "remote_tool.running", Title: "AnyDesk is running", Severity: pb.Severity_SEVERITY_HIGH, Evidence: map[string]string{"process": "anydesk"}}
		if r := ingest(t, s, devA, report(1, f)); r.Duplicate || r.HighestSequence != 1 {
			t.Fatalf("first ingest: %+v", r)
		}
		if r := ingest(t, s, devA, report(1, f)); !r.Duplicate || r.HighestSequence != 1 {
			t.Fatalf("replay: %+v", r)
		}
		d, err := s.Device(context.Background(), devA)
		if err != nil {
			t.Fatal(err)
		}
		if d.Reports != 1 || d.HighestSequence != 1 || d.FindingsCount != 1 || d.Hostname != "renamed-host" {
			t.Fatalf("device after replay: %+v", d)
		}
		fs, err := s.Findings(context.Background(), devA)
		if err != nil || len(fs) != 1 || fs[0].Evidence["process"] != "anydesk" || fs[0].Severity != pb.Severity_SEVERITY_HIGH {
			t.Fatalf("findings: %+v %v", fs, err)
		}
	})
}

func TestGapsAreVisibleAndLateReportsFillThem(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		enrollDevice(t, s, devA)
		ingest(t, s, devA, report(1))
		if r := ingest(t, s, devA, report(5)); r.GapBefore != 3 || r.HighestSequence != 5 {
			t.Fatalf("gap: %+v", r)
		}
		gaps, err := s.SequenceGaps(context.Background(), devA)
		if err != nil || len(gaps) != 1 || gaps[0] != (Gap{2, 4}) {
			t.Fatalf("gaps = %v, %v", gaps, err)
		}
		ingest(t, s, devA, report(3))
		gaps, _ = s.SequenceGaps(context.Background(), devA)
		if len(gaps) != 2 || gaps[0] != (Gap{2, 2}) || gaps[1] != (Gap{4, 4}) {
			t.Fatalf("gaps after late report = %v", gaps)
		}
		d, _ := s.Device(context.Background(), devA)
		if d.HighestSequence != 5 || d.Reports != 3 {
			t.Fatalf("device: %+v", d)
		}
	})
}

func TestCurrentFindingsFollowTheNewestReport(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		enrollDevice(t, s, devA)
		a := &pb.Finding{Signal: "remote_tool.running", Key: "anydesk", Title: "AnyDesk", FirstSeen: timestamppb.New(t0)}
		b := &pb.Finding{Signal: "os_remote.enabled", Key: "vnc", Title: "VNC server"}
		ingest(t, s, devA, report(1, a))
		a2 := proto.Clone(a).(*pb.Finding)
		a2.FirstSeen = timestamppb.New(t0.Add(time.Hour))
		ingest(t, s, devA, report(2, a2, b))
		ingest(t, s, devA, report(1, a)) // replay of an old one must not change current state
		fs, _ := s.Findings(context.Background(), devA)
		if len(fs) != 2 {
			t.Fatalf("findings: %+v", fs)
		}
		for _, f := range fs {
			if f.Key == "remote_tool.running|anydesk" && !f.FirstSeen.Equal(t0) {
				t.Fatalf("first_seen not kept: %v", f.FirstSeen)
			}
			if f.Sequence != 2 {
				t.Fatalf("finding from sequence %d, want 2", f.Sequence)
			}
		}
		ingest(t, s, devA, report(3))
		if fs, _ := s.Findings(context.Background(), devA); len(fs) != 0 {
			t.Fatalf("findings after clean report: %+v", fs)
		}
	})
}

func TestRevokedDeviceStoresNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		enrollDevice(t, s, devA)
		if err := s.RevokeDevice(context.Background(), devA, t0); err != nil {
			t.Fatal(err)
		}
		body, _ := proto.Marshal(report(1))
		_, err := s.IngestReport(context.Background(), Ingest{DeviceID: devA, Report: report(1), Body: body, Received: t0})
		if !errors.Is(err, ErrRevoked) {
			t.Fatalf("ingest after revoke: %v", err)
		}
		if _, err := s.CertificateStatus(context.Background(), "1"+devA[:6]); !errors.Is(err, ErrRevoked) {
			t.Fatalf("certificate status: %v", err)
		}
		if _, err := s.Report(context.Background(), devA, 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("report stored after revoke: %v", err)
		}
		if err := s.RevokeDevice(context.Background(), "ffffffffffffffffffffffffffffffff", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}
	})
}

func TestUnknownDeviceIsRejected(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		body, _ := proto.Marshal(report(1))
		if _, err := s.IngestReport(context.Background(), Ingest{DeviceID: devA, Report: report(1), Body: body, Received: t0}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ingest for unknown device: %v", err)
		}
	})
}

func TestEnrollSecretsLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		h := sha256.Sum256([]byte("s3cret"))
		if err := s.CreateEnrollSecret(ctx, EnrollSecret{ID: "es1", Name: "default", Hash: h[:], CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateEnrollSecret(ctx, EnrollSecret{ID: "es2", Name: "default", Hash: []byte("x"), CreatedAt: t0}); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate name: %v", err)
		}
		e, err := s.EnrollSecretByHash(ctx, h[:])
		if err != nil || e.ID != "es1" || !e.Active() {
			t.Fatalf("by hash: %+v %v", e, err)
		}
		if e, err := s.RevokeEnrollSecret(ctx, "default", t0.Add(time.Minute)); err != nil || e.Active() {
			t.Fatalf("revoke: %+v %v", e, err)
		}
		if e, _ := s.EnrollSecretByHash(ctx, h[:]); e.Active() {
			t.Fatal("secret still active after revoke")
		}
		if _, err := s.RevokeEnrollSecret(ctx, "nope", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}
	})
}

func TestDataSurvivesReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() Store) {
		s := open()
		enrollDevice(t, s, devA)
		ingest(t, s, devA, report(1))
		ingest(t, s, devA, report(2))
		s.Close()
		s2 := open()
		ds, total, err := s2.Devices(context.Background(), DeviceFilter{Search: "renamed"})
		if err != nil || total != 1 || len(ds) != 1 || ds[0].HighestSequence != 2 {
			t.Fatalf("devices after reopen: %+v %d %v", ds, total, err)
		}
		r, err := s2.Report(context.Background(), devA, 2)
		if err != nil || r.GetSequence() != 2 {
			t.Fatalf("report after reopen: %v %v", r, err)
		}
	})
}

func TestDevicesRejectsUnknownSort(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		if _, _, err := s.Devices(context.Background(), DeviceFilter{Sort: "id; DROP TABLE devices"}); err == nil {
			t.Fatal("unknown sort accepted")
		}
	})
}

func TestSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if err := s.CreateUser(ctx, User{Username: "ana", PasswordHash: "h", Role: RoleAdmin, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, User{Username: "ana", PasswordHash: "h", Role: RoleAdmin, CreatedAt: t0}); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate user: %v", err)
		}
		id := []byte("hash-of-token")
		if err := s.CreateSession(ctx, Session{IDHash: id, Username: "ana", CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if ss, err := s.Session(ctx, id, t0.Add(time.Minute)); err != nil || ss.Username != "ana" || ss.CSRFToken != "c" {
			t.Fatalf("session: %+v %v", ss, err)
		}
		if _, err := s.Session(ctx, id, t0.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		if n, err := s.DeleteExpiredSessions(ctx, t0.Add(2*time.Hour)); n != 1 || err != nil {
			t.Fatalf("delete expired: %d %v", n, err)
		}
	})
}

// BenchmarkIngestReport measures one durable (synchronous=FULL) ingest of a typical report
// with five findings, each in its own transaction as the collector does today.
func BenchmarkIngestReport(b *testing.B) {
	s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	err = s.Enroll(context.Background(), Enrollment{
		Device:      Device{ID: devA, EnrolledAt: t0},
		Certificate: Certificate{Serial: "1", DeviceID: devA, NotBefore: t0, NotAfter: t0, IssuedAt: t0},
	})
	if err != nil {
		b.Fatal(err)
	}
	var fs []*pb.Finding
	for i := range 5 {
		fs = append(fs, &pb.Finding{Signal: "remote_tool.running", Key: fmt.Sprint(i), Title: "AnyDesk", Evidence: map[string]string{"process": "anydesk", "pid": "4242"}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := report(uint64(i+1), fs...)
		body, _ := proto.Marshal(r)
		if _, err := s.IngestReport(context.Background(), Ingest{DeviceID: devA, Report: r, Body: body, Received: t0}); err != nil {
			b.Fatal(err)
		}
	}
}

// A batch is one transaction: each report as IngestReport would store it, unknown devices
// answered per report without spoiling the rest.
func TestIngestReportsBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		enrollDevice(t, s, devA)
		enrollDevice(t, s, devB)
		mk := func(id string, seq uint64) Ingest {
			r := report(seq, &pb.Finding{Signal: "remote_tool.running", Key: fmt.Sprint(seq), Title: "AnyDesk"})
			body, _ := proto.Marshal(r)
			return Ingest{DeviceID: id, Report: r, Body: body, Received: t0, Address: "127.0.0.1"}
		}
		ingest(t, s, devA, mk(devA, 1).Report)
		batch := []Ingest{mk(devA, 2), mk(devB, 1), mk("ffffffffffffffffffffffffffffffff", 1), mk(devA, 3), mk(devA, 1), mk(devB, 3)}
		res, errs, err := s.IngestReports(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(errs[2], ErrNotFound) {
			t.Fatalf("unknown device: %v", errs[2])
		}
		for i, e := range errs {
			if i != 2 && e != nil {
				t.Fatalf("report %d: %v", i, e)
			}
		}
		if !res[4].Duplicate || res[4].Conflict || res[3].HighestSequence != 3 || res[5].GapBefore != 1 {
			t.Fatalf("results: %+v", res)
		}
		d, _ := s.Device(context.Background(), devA)
		if d.HighestSequence != 3 || d.Reports != 3 {
			t.Fatalf("device A: %d reports up to %d", d.Reports, d.HighestSequence)
		}
		fs, _ := s.Findings(context.Background(), devA)
		if len(fs) != 1 || fs[0].Sequence != 3 {
			t.Fatalf("findings of A: %+v", fs)
		}
	})
}

// BenchmarkIngestReports measures group commit: 256 reports of 256 devices per transaction.
func BenchmarkIngestReports(b *testing.B) {
	s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchIngestReports(b, s)
}
