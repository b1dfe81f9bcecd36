package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestRepeatedFindingsFollowTheNewestReport: a report that repeats the device's findings
// moves every one of them on to its sequence, and those stamped with its creation time on to
// its time, on both backends alike; on SQLite without writing a finding row. Whatever changes
// (content, an earlier first seen, a last seen of its own, a finding gone or back) is written.
func TestRepeatedFindingsFollowTheNewestReport(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		enrollDevice(t, s, devA)
		created := func(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Minute) } // as report() makes it
		// a follows its report (last seen = created, as the agent stamps it); b keeps a last
		// seen of its own.
		a := func(seq uint64, first time.Time, ev string) *pb.Finding {
			return &pb.Finding{Signal: "remote_tool.running", Key: "a", Title: "AnyDesk", Severity: pb.Severity_SEVERITY_HIGH,
				Evidence: map[string]string{"pid": ev}, FirstSeen: timestamppb.New(first), LastSeen: timestamppb.New(created(seq))}
		}
		b := func(last time.Time, ev string) *pb.Finding {
			return &pb.Finding{Signal: "kvm.usb_device", Key: "b", Title: "PiKVM", Severity: pb.Severity_SEVERITY_CRITICAL,
				Evidence: map[string]string{"vid": ev}, FirstSeen: timestamppb.New(t0), LastSeen: timestamppb.New(last)}
		}
		type want struct {
			seq         uint64
			first, last time.Time
			ev          string
		}
		check := func(stage string, wants map[string]want) {
			t.Helper()
			fs, err := s.Findings(ctx, devA)
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != len(wants) {
				t.Fatalf("%s: %d findings %+v, want %d", stage, len(fs), fs, len(wants))
			}
			for _, f := range fs {
				w, ok := wants[f.Key]
				ev := f.Evidence["pid"] + f.Evidence["vid"]
				if !ok || f.Sequence != w.seq || !f.FirstSeen.Equal(w.first) || !f.LastSeen.Equal(w.last) || ev != w.ev || f.Source != "agent" {
					t.Errorf("%s: %s sequence %d first %v last %v evidence %q; want %+v", stage, f.Key, f.Sequence, f.FirstSeen, f.LastSeen, ev, w)
				}
			}
			d, err := s.Device(ctx, devA)
			if err != nil || d.FindingsCount != len(wants) {
				t.Errorf("%s: device findings count %d (%v), want %d", stage, d.FindingsCount, err, len(wants))
			}
		}
		const ka, kb = "remote_tool.running|a", "kvm.usb_device|b"
		bLast := t0.Add(-time.Hour)
		ingest(t, s, devA, report(1, a(1, t0, "1"), b(bLast, "x")))
		check("report 1", map[string]want{ka: {1, t0, created(1), "1"}, kb: {1, t0, bLast, "x"}})

		// The same findings, later (a's first seen moves on too, as an agent's does).
		ingest(t, s, devA, report(2, a(2, t0.Add(time.Minute), "1"), b(bLast, "x")))
		check("report 2, repeated", map[string]want{ka: {2, t0, created(2), "1"}, kb: {2, t0, bLast, "x"}})
		if sq, ok := s.(*SQLite); ok {
			// Nothing of them was written: the rows still hold report 1's sequence and times.
			var seq, last int64
			if err := sq.r.QueryRowContext(ctx, `SELECT sequence, last_seen FROM findings WHERE device_id = ? AND key = ?`, devA, ka).Scan(&seq, &last); err != nil {
				t.Fatal(err)
			}
			if seq != 1 || last != ms(created(1)) {
				t.Errorf("repeated finding written: row sequence %d last_seen %d", seq, last)
			}
		}

		// An earlier first seen is taken, though nothing else changed.
		early := t0.Add(-24 * time.Hour)
		ingest(t, s, devA, report(3, a(3, early, "1"), b(bLast, "x")))
		check("report 3, earlier first seen", map[string]want{ka: {3, early, created(3), "1"}, kb: {3, t0, bLast, "x"}})

		// Changed evidence, and a last seen of its own that moves.
		bLast2 := t0.Add(2 * time.Minute)
		ingest(t, s, devA, report(4, a(4, t0, "2"), b(bLast2, "x")))
		check("report 4, changed", map[string]want{ka: {4, early, created(4), "2"}, kb: {4, t0, bLast2, "x"}})

		// b now follows its report; a is gone.
		ingest(t, s, devA, report(5, b(created(5), "x")))
		check("report 5, a gone", map[string]want{kb: {5, t0, created(5), "x"}})

		// a is back (first seen anew); b stops following and keeps its last seen.
		ingest(t, s, devA, report(6, a(6, created(6), "2"), b(created(5), "x")))
		check("report 6, a back", map[string]want{ka: {6, created(6), created(6), "2"}, kb: {6, t0, created(5), "x"}})

		// A replay of report 6 changes nothing.
		ingest(t, s, devA, report(6, a(6, created(6), "2"), b(created(5), "x")))
		ingest(t, s, devA, report(7, a(7, created(6), "2"), b(created(5), "x")))
		check("report 7, repeated", map[string]want{ka: {7, created(6), created(7), "2"}, kb: {7, t0, created(5), "x"}})
	})
}

// TestFindingSetDigest: the digest changes with everything the ingest writes of a finding
// but first_seen, and not with the order of distinct keys.
func TestFindingSetDigest(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	mk := func(key, title, ev string, conf float64, last time.Time) *pb.Finding {
		return &pb.Finding{Signal: "remote_tool.running", Key: key, Title: title, Confidence: conf, Evidence: map[string]string{"e": ev},
			FirstSeen: timestamppb.New(at.Add(-time.Hour)), LastSeen: timestamppb.New(last)}
	}
	digest := func(fs ...*pb.Finding) string {
		t.Helper()
		set, err := newFindingSet(&pb.Report{Created: timestamppb.New(at), Findings: fs}, at)
		if err != nil {
			t.Fatal(err)
		}
		return string(set.digest)
	}
	base := digest(mk("a", "A", "1", 0.5, at), mk("b", "B", "1", 0.5, at))
	if got := digest(mk("b", "B", "1", 0.5, at), mk("a", "A", "1", 0.5, at)); got != base {
		t.Error("digest depends on the order of distinct keys")
	}
	firstMoved := mk("a", "A", "1", 0.5, at)
	firstMoved.FirstSeen = timestamppb.New(at)
	if got := digest(firstMoved, mk("b", "B", "1", 0.5, at)); got != base {
		t.Error("digest depends on first seen")
	}
	for name, fs := range map[string][]*pb.Finding{
		"title":            {mk("a", "A2", "1", 0.5, at), mk("b", "B", "1", 0.5, at)},
		"evidence":         {mk("a", "A", "2", 0.5, at), mk("b", "B", "1", 0.5, at)},
		"confidence":       {mk("a", "A", "1", 0.6, at), mk("b", "B", "1", 0.5, at)},
		"own last seen":    {mk("a", "A", "1", 0.5, at.Add(-time.Second)), mk("b", "B", "1", 0.5, at)},
		"a finding fewer":  {mk("a", "A", "1", 0.5, at)},
		"a repeated key":   {mk("a", "A", "1", 0.5, at), mk("a", "A", "1", 0.5, at), mk("b", "B", "1", 0.5, at)},
		"fields run on":    {mk("a", "AB", "1", 0.5, at), mk("b", "", "1", 0.5, at)},
		"keys swapped":     {mk("a", "B", "1", 0.5, at), mk("b", "A", "1", 0.5, at)},
		"no findings":      nil,
		"other key":        {mk("a", "A", "1", 0.5, at), mk("c", "B", "1", 0.5, at)},
		"repeat reordered": {mk("a", "A", "1", 0.5, at), mk("b", "B", "2", 0.5, at), mk("b", "B", "1", 0.5, at)},
	} {
		if digest(fs...) == base {
			t.Errorf("%s: same digest", name)
		}
	}
	if digest(mk("a", "A", "1", 0.5, at), mk("b", "B", "2", 0.5, at), mk("b", "B", "1", 0.5, at)) ==
		digest(mk("a", "A", "1", 0.5, at), mk("b", "B", "1", 0.5, at), mk("b", "B", "2", 0.5, at)) {
		t.Error("the order of a repeated key's findings (the last is stored) is not in the digest")
	}
}

// TestTouchManyAndHighestSequence: heartbeats' last seen times written together move each
// device's last seen on (never back), take the address only from a time no older than the
// last seen one, and skip unknown and revoked devices; HighestSequence reads without writing.
func TestTouchManyAndHighestSequence(t *testing.T) {
	const devC = "cccc000000000000cccc000000000003"
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		enrollDevice(t, s, devA)
		enrollDevice(t, s, devB)
		enrollDevice(t, s, devC)
		if err := s.RevokeDevice(ctx, devC, t0); err != nil {
			t.Fatal(err)
		}
		if hi, err := s.HighestSequence(ctx, devA); err != nil || hi != 0 {
			t.Fatalf("highest of a device without reports: %d, %v", hi, err)
		}
		ingest(t, s, devA, report(3)) // received at t0+1h, from 127.0.0.1
		for _, id := range []string{devC, "unknown"} {
			if _, err := s.HighestSequence(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("highest of %s: %v, want ErrNotFound", id, err)
			}
		}
		if hi, err := s.HighestSequence(ctx, devA); err != nil || hi != 3 {
			t.Fatalf("highest: %d, %v", hi, err)
		}
		err := s.TouchMany(ctx, []Seen{
			{DeviceID: devA, At: t0.Add(30 * time.Minute), Address: "198.51.100.1"}, // older than its report
			{DeviceID: devB, At: t0.Add(2 * time.Hour), Address: "198.51.100.2"},
			{DeviceID: devC, At: t0.Add(2 * time.Hour), Address: "198.51.100.3"},
			{DeviceID: "unknown", At: t0, Address: "198.51.100.4"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []struct {
			id   string
			last time.Time
			addr string
		}{{devA, t0.Add(time.Hour), "127.0.0.1"}, {devB, t0.Add(2 * time.Hour), "198.51.100.2"}, {devC, t0, ""}} {
			d, err := s.Device(ctx, w.id)
			if err != nil {
				t.Fatal(err)
			}
			if !d.LastSeen.Equal(w.last) || d.LastAddress != w.addr {
				t.Errorf("%s: last seen %v from %q, want %v from %q", w.id, d.LastSeen, d.LastAddress, w.last, w.addr)
			}
		}
		if err := s.TouchMany(ctx, nil); err != nil {
			t.Errorf("nothing to write: %v", err)
		}
	})
}
