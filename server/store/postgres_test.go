package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// replicaReport is report seq of a device in the replica test: a finding every report
// repeats (first seen with report 1), and one or two that change with the sequence.
func replicaReport(seq uint64) *pb.Report {
	fs := []*pb.Finding{
		{Signal: "kvm.usb", Key: "stable", Title: "PiKVM", Severity: pb.Severity_SEVERITY_HIGH, Evidence: map[string]string{"vendor": "1d6b"}},
		{Signal: "remote_tool.running", Key: fmt.Sprint("k", seq%5), Title: "AnyDesk", Evidence: map[string]string{"seq": fmt.Sprint(seq)}},
	}
	if seq%3 == 0 {
		fs = append(fs, &pb.Finding{Signal: "os_remote.enabled", Key: "vnc", Title: "VNC", Confidence: float64(seq) / 1000})
	}
	return report(seq, fs...)
}

// Two collector replicas (two pools on one database) ingest for the same 20 devices at once,
// each sending every report of sequences 1..200 (as when an agent's retry lands on the other
// replica), each in sequence order per device, in random batches and interleavings. Every
// report is stored once, counted once, never seen as a conflict, and the current state is
// that of sequence 200.
func TestPostgresReplicasIngestConcurrently(t *testing.T) {
	dsn := pgTestDatabase(t)
	ctx := context.Background()

	// The replicas start together on an empty database: each migration is applied once.
	var replicas [2]*Postgres
	var wg sync.WaitGroup
	var openErr [2]error
	for i := range replicas {
		wg.Go(func() {
			replicas[i], openErr[i] = OpenPostgres(ctx, dsn, nil)
		})
	}
	wg.Wait()
	for i, err := range openErr {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		t.Cleanup(func() { replicas[i].Close() })
	}
	var migrations int
	if err := replicas[0].pool.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&migrations); err != nil || migrations != pgMigrationCount(t) {
		t.Fatalf("schema_migrations: %d rows, %v", migrations, err)
	}

	const devices, last = 20, 200
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("%06x%026x", 0xabc000+i, i) // enrollDevice takes serials from the first 6
		enrollDevice(t, replicas[i%2], ids[i])
	}
	// The same bytes whichever replica gets them (map order makes Marshal vary otherwise).
	ingests := make([][]Ingest, devices)
	for d := range ids {
		ingests[d] = make([]Ingest, last+1)
		for seq := uint64(1); seq <= last; seq++ {
			r := replicaReport(seq)
			body, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			ingests[d][seq] = Ingest{DeviceID: ids[d], Report: r, Body: body, Received: t0.Add(time.Duration(seq) * time.Second), Address: "10.0.0.1"}
		}
	}

	type outcome struct {
		res IngestResult
		err error
	}
	results := [2][][]outcome{}
	for r := range results {
		results[r] = make([][]outcome, devices)
		for d := range results[r] {
			results[r][d] = make([]outcome, last+1)
		}
	}
	for r, s := range replicas {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), uint64(time.Now().UnixNano())))
			for seq := uint64(1); seq <= last; seq++ {
				// This round's reports of every device, in random batches sent concurrently
				// (a device is in one batch per round, so its reports stay in order).
				perm := rng.Perm(devices)
				var round sync.WaitGroup
				for len(perm) > 0 {
					n := min(1+rng.IntN(8), len(perm))
					chunk := perm[:n]
					perm = perm[n:]
					single := n == 1 && rng.IntN(2) == 0
					round.Go(func() {
						if d := rand.N(3 * time.Millisecond); d > 2*time.Millisecond {
							time.Sleep(d - 2*time.Millisecond)
						}
						if single {
							res, err := s.IngestReport(ctx, ingests[chunk[0]][seq])
							results[r][chunk[0]][seq] = outcome{res, err}
							return
						}
						batch := make([]Ingest, n)
						for i, d := range chunk {
							batch[i] = ingests[d][seq]
						}
						res, errs, err := s.IngestReports(ctx, batch)
						for i, d := range chunk {
							o := outcome{err: err}
							if err == nil {
								o = outcome{res[i], errs[i]}
							}
							results[r][d][seq] = o
						}
					})
				}
				round.Wait()
			}
		})
	}
	wg.Wait()

	s := replicas[0]
	for d, id := range ids {
		for seq := uint64(1); seq <= last; seq++ {
			stored := 0
			for r := range replicas {
				o := results[r][d][seq]
				if o.err != nil {
					t.Fatalf("replica %d, %s/%d: %v", r, id, seq, o.err)
				}
				if o.res.Conflict || o.res.GapBefore != 0 {
					t.Errorf("replica %d, %s/%d: %+v", r, id, seq, o.res)
				}
				if !o.res.Duplicate {
					stored++
				}
			}
			if stored != 1 {
				t.Errorf("%s/%d stored by %d replicas", id, seq, stored)
			}
		}
		dev, err := s.Device(ctx, id)
		if err != nil || dev.HighestSequence != last || dev.Reports != last {
			t.Errorf("device %s: %d reports up to %d, %v", id, dev.Reports, dev.HighestSequence, err)
		}
		rs, err := s.Reports(ctx, id, 1000)
		if err != nil || len(rs) != last {
			t.Errorf("device %s: %d reports stored, %v", id, len(rs), err)
		}
		for i, r := range rs {
			if r.Sequence != uint64(last-i) {
				t.Errorf("device %s: report %d is sequence %d", id, i, r.Sequence)
				break
			}
		}
		if gaps, err := s.SequenceGaps(ctx, id); err != nil || len(gaps) != 0 {
			t.Errorf("device %s: gaps %v, %v", id, gaps, err)
		}
		fs, err := s.Findings(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, f := range replicaReport(last).GetFindings() {
			want[FindingKey(f)] = true
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Key)
			if !want[f.Key] || f.Sequence != last {
				t.Errorf("device %s: finding %s of sequence %d", id, f.Key, f.Sequence)
			}
			if f.Key == "kvm.usb|stable" && !f.FirstSeen.Equal(t0.Add(time.Second)) {
				t.Errorf("device %s: stable finding first seen %v, want with report 1", id, f.FirstSeen)
			}
		}
		if sort.Strings(got); len(got) != len(want) || dev.FindingsCount != len(want) {
			t.Errorf("device %s: findings %v (count %d), want those of report %d", id, got, dev.FindingsCount, last)
		}
	}
	var conflicts int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM report_conflicts`).Scan(&conflicts); err != nil || conflicts != 0 {
		t.Errorf("report_conflicts: %d, %v", conflicts, err)
	}
}

// Migrations: several collectors opening a new database at once apply each migration once;
// reopening applies nothing; a database newer than the code is refused.
func TestPostgresMigrationsConcurrentAndVersioned(t *testing.T) {
	dsn := pgTestDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := OpenPostgres(ctx, dsn, nil)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s := openPGTest(t, dsn)
	var n, top int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &top); err != nil || n != pgMigrationCount(t) || top != pgMigrationCount(t) {
		t.Fatalf("schema_migrations: %d rows up to %d, %v", n, top, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	if s2, err := OpenPostgres(ctx, dsn, nil); err == nil {
		s2.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// Conflicting replays (a cloned agent) are kept apart and bounded, on both backends.
func TestConflictingReplayKeptApart(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		enrollDevice(t, s, devA)
		ingest(t, s, devA, report(1, &pb.Finding{Signal: "kvm.usb", Key: "a"}))
		other := report(1, &pb.Finding{Signal: "kvm.usb", Key: "b"})
		res := ingest(t, s, devA, other)
		if !res.Duplicate || !res.Conflict || res.HighestSequence != 1 {
			t.Fatalf("conflicting replay: %+v", res)
		}
		if r, err := s.Report(ctx, devA, 1); err != nil || r.GetFindings()[0].GetKey() != "a" {
			t.Fatalf("stored report replaced: %v %v", r, err)
		}
		if fs, _ := s.Findings(ctx, devA); len(fs) != 1 || fs[0].Key != "kvm.usb|a" {
			t.Fatalf("findings: %+v", fs)
		}
	})
}

// BenchmarkPostgresIngestReports is BenchmarkIngestReports on PostgreSQL: 256 reports of
// 256 devices per transaction, each with five findings, durable commits.
func BenchmarkPostgresIngestReports(b *testing.B) {
	s := openPGTest(b, pgTestDatabase(b))
	benchIngestReports(b, s)
}

// BenchmarkPostgresIngestReport is one report per transaction.
func BenchmarkPostgresIngestReport(b *testing.B) {
	s := openPGTest(b, pgTestDatabase(b))
	err := s.Enroll(context.Background(), Enrollment{
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

func benchIngestReports(b *testing.B, s Store) {
	const n = 256
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i+1)
		err := s.Enroll(context.Background(), Enrollment{
			Device:      Device{ID: ids[i], EnrolledAt: t0},
			Certificate: Certificate{Serial: fmt.Sprint(i + 1), DeviceID: ids[i], NotBefore: t0, NotAfter: t0, IssuedAt: t0},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var fs []*pb.Finding
	for i := range 5 {
		fs = append(fs, &pb.Finding{Signal: "remote_tool.running", Key: fmt.Sprint(i), Title: "AnyDesk", Evidence: map[string]string{"process": "anydesk", "pid": "4242"}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	seq := uint64(0)
	for done := 0; done < b.N; {
		seq++
		batch := make([]Ingest, 0, n)
		for i := 0; i < n && done < b.N; i++ {
			r := report(seq, fs...)
			body, _ := proto.Marshal(r)
			batch = append(batch, Ingest{DeviceID: ids[i], Report: r, Body: body, Received: t0})
			done++
		}
		if _, _, err := s.IngestReports(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

// pgMigrationCount is how many PostgreSQL migrations this collector carries.
func pgMigrationCount(t *testing.T) int {
	t.Helper()
	names, err := fs.Glob(postgresMigrations, "migrations/postgres/*.sql")
	if err != nil || len(names) < 11 {
		t.Fatalf("embedded migrations: %d, %v", len(names), err)
	}
	return len(names)
}
