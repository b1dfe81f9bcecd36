package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ingestAt stores r for id as received at.
func ingestAt(t *testing.T, s Store, id string, r *pb.Report, at time.Time) IngestResult {
	t.Helper()
	body, _ := proto.Marshal(r)
	res, err := s.IngestReport(context.Background(), Ingest{DeviceID: id, Report: r, Body: body, Received: at, Address: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPruneReportsKeepsNewestAndRealGaps(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		enrollDevice(t, s, devA)
		enrollDevice(t, s, devB)
		f := &pb.Finding{Signal: "remote_tool.running", Title: "AnyDesk is running", Severity: pb.Severity_SEVERITY_HIGH}
		// devA: sequences 1, 2, 3, 5, 6 received an hour apart (4 never arrived); devB: one
		// old report, its newest.
		for _, seq := range []uint64{1, 2, 3, 5, 6} {
			ingestAt(t, s, devA, report(seq, f), t0.Add(time.Duration(seq)*time.Hour))
		}
		ingestAt(t, s, devB, report(1), t0)
		gaps := func(id string) []Gap {
			t.Helper()
			g, err := s.SequenceGaps(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
		prune := func(cutoff time.Time, limit int) int {
			t.Helper()
			n, err := s.PruneReports(ctx, cutoff, limit)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		stored := func(id string, seq uint64) bool {
			t.Helper()
			_, err := s.Report(ctx, id, seq)
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		if g := gaps(devA); !slices.Equal(g, []Gap{{4, 4}}) {
			t.Fatalf("gaps before pruning: %+v", g)
		}

		// Older than 3.5 h: devA's 1-3 go; devB's only report is its newest and stays.
		if n := prune(t0.Add(3*time.Hour+30*time.Minute), 100); n != 3 {
			t.Fatalf("pruned %d, want 3", n)
		}
		for seq, want := range map[uint64]bool{1: false, 2: false, 3: false, 5: true, 6: true} {
			if stored(devA, seq) != want {
				t.Errorf("devA report %d stored: %v, want %v", seq, !want, want)
			}
		}
		if !stored(devB, 1) {
			t.Error("devB's newest report was pruned")
		}
		// Pruned history is not a gap; the report that never came still is.
		if g := gaps(devA); !slices.Equal(g, []Gap{{4, 4}}) {
			t.Fatalf("gaps after pruning 1-3: %+v", g)
		}

		// The limit holds, oldest first; then only the newest reports are left.
		if n := prune(t0.Add(100*time.Hour), 1); n != 1 || stored(devA, 5) || !stored(devA, 6) {
			t.Fatalf("pruned %d with limit 1; report 5 stored %v, 6 stored %v", n, stored(devA, 5), stored(devA, 6))
		}
		if n := prune(t0.Add(100*time.Hour), 100); n != 0 {
			t.Fatalf("pruned %d newest reports", n)
		}
		if g := gaps(devA); len(g) != 0 {
			t.Fatalf("gaps once history is pruned up to 5: %+v", g)
		}

		// A report of the pruned range arriving late is stored as history; it is no gap
		// and no finding changes; the device's current state is untouched by all of it.
		ingestAt(t, s, devA, report(2, f), t0.Add(200*time.Hour))
		if g := gaps(devA); len(g) != 0 || !stored(devA, 2) {
			t.Fatalf("late report 2: stored %v, gaps %+v", stored(devA, 2), g)
		}
		d, err := s.Device(ctx, devA)
		if err != nil || d.HighestSequence != 6 || d.FindingsCount != 1 {
			t.Fatalf("device after pruning: %+v %v", d, err)
		}
		if fs, err := s.Findings(ctx, devA); err != nil || len(fs) != 1 {
			t.Fatalf("findings after pruning: %+v %v", fs, err)
		}
		if facts, _, err := s.Facts(ctx, devA); err != nil || facts.GetHost().GetHostname() != "renamed-host" {
			t.Fatalf("facts after pruning: %v %v", facts, err)
		}
		if n, err := s.PruneReports(ctx, t0.Add(300*time.Hour), 0); err != nil || n != 0 {
			t.Fatalf("limit 0: %d %v", n, err)
		}
	})
}

// BenchmarkPruneReports measures a retention pass over 5,000 reports of 2.9 KB (the load
// generator's average) from 250 devices, in transactions of 1,000 as the collector runs them
// (collector.PruneBatch), on a SQLite store that also holds each device's newest report:
// ns/op is per pass of five transactions; reports/s is the deletion rate while nothing else
// writes.
func BenchmarkPruneReports(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, b.TempDir()+"/farmwatch.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const devices, perDevice = 250, 20
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i+1)
		if err := s.Enroll(ctx, Enrollment{Device: Device{ID: ids[i], EnrolledAt: t0},
			Certificate: Certificate{Serial: fmt.Sprint(i + 1), DeviceID: ids[i], NotBefore: t0, NotAfter: t0, IssuedAt: t0}}); err != nil {
			b.Fatal(err)
		}
	}
	body := make([]byte, 2900)
	seq := uint64(0)
	fill := func() { // perDevice old reports for every device, then one newer that stays
		for range perDevice + 1 {
			seq++
			batch := make([]Ingest, devices)
			for i, id := range ids {
				batch[i] = Ingest{DeviceID: id, Report: report(seq), Body: body, Received: t0.Add(time.Duration(seq) * time.Second)}
			}
			if _, _, err := s.IngestReports(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	pruned := 0
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		fill()
		cutoff := t0.Add(time.Duration(seq) * time.Second)
		b.StartTimer()
		start := time.Now()
		n := 0
		for range 5 {
			k, err := s.PruneReports(ctx, cutoff, devices*perDevice/5)
			if err != nil {
				b.Fatal(err)
			}
			n += k
		}
		took += time.Since(start)
		if n != devices*perDevice {
			b.Fatalf("pruned %d; want %d", n, devices*perDevice)
		}
		pruned += n
	}
	b.ReportMetric(float64(pruned)/took.Seconds(), "reports/s")
}

// TestUnchangedFindingsAreTouchedEachWithItsLastSeen: a report repeating the findings of the
// one before moves each to the new sequence and to its own last-seen time (two different
// times here), in both stores, and leaves a changed one rewritten and a vanished one gone.
func TestUnchangedFindingsAreTouchedEachWithItsLastSeen(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		enrollDevice(t, s, devA)
		mk := func(key string, last time.Time, title string) *pb.Finding {
			return &pb.Finding{Signal: "remote_tool.running", Key: key, Title: title, Severity: pb.Severity_SEVERITY_HIGH,
				FirstSeen: timestamppb.New(t0), LastSeen: timestamppb.New(last)}
		}
		ingestAt(t, s, devA, report(1, mk("a", t0, "A"), mk("b", t0, "B"), mk("c", t0, "C"), mk("d", t0, "D")), t0)
		l1, l2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
		ingestAt(t, s, devA, report(2, mk("a", l1, "A"), mk("b", l2, "B"), mk("c", l1, "C changed")), t0.Add(3*time.Hour))
		fs, err := s.Findings(ctx, devA)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Finding{}
		for _, f := range fs {
			got[f.Key] = f
		}
		if len(got) != 3 {
			t.Fatalf("findings after report 2: %+v", fs)
		}
		for key, want := range map[string]time.Time{"remote_tool.running|a": l1, "remote_tool.running|b": l2, "remote_tool.running|c": l1} {
			f, ok := got[key]
			if !ok || f.Sequence != 2 || !f.LastSeen.Equal(want) || !f.FirstSeen.Equal(t0) {
				t.Errorf("%s: %+v, want sequence 2, last seen %v", key, f, want)
			}
		}
		if got["remote_tool.running|c"].Title != "C changed" {
			t.Errorf("changed finding not rewritten: %+v", got["remote_tool.running|c"])
		}
	})
}
