package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestSQLiteUpgradeKeepsReports builds a database at schema version 10 (reports WITHOUT
// ROWID) the way an older collector left it, with reports, a gap and a device, then opens it
// with this collector: migration 11 rebuilds reports as a rowid table, and every report, the
// gap, replay detection and the conflict check still work on the upgraded rows.
func TestSQLiteUpgradeKeepsReports(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	names, err := fs.Glob(sqliteMigrations, "migrations/sqlite/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	for i, name := range names {
		if strings.Contains(name, "/0011_") {
			break
		}
		body, _ := sqliteMigrations.ReadFile(name)
		mustExec(string(body))
		mustExec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, i+1)
	}
	mustExec(`INSERT INTO devices (id, hostname, enrolled_at, highest_sequence, reports) VALUES (?, 'old-host', 0, 3, 2)`, devA)
	bodies := map[uint64][]byte{}
	for _, seq := range []uint64{1, 3} {
		r := report(seq)
		bodies[seq], _ = proto.Marshal(r)
		mustExec(`INSERT INTO reports (device_id, sequence, created, received, address, findings_count, body) VALUES (?, ?, ?, ?, '192.0.2.1', 0, ?)`,
			devA, int64(seq), ms(t0), ms(t0), bodies[seq])
	}
	db.Close()

	s, err := OpenSQLite(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var version int
	var rowid sql.NullString
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version < 11 {
		t.Fatalf("schema version %d, %v", version, err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'reports'`).Scan(&rowid); err != nil || strings.Contains(rowid.String, "WITHOUT ROWID") {
		t.Fatalf("reports after upgrade: %q %v", rowid.String, err)
	}
	for seq, want := range bodies {
		got, err := s.Report(ctx, devA, seq)
		if err != nil {
			t.Fatalf("report %d after upgrade: %v", seq, err)
		}
		if b, _ := proto.Marshal(got); string(b) != string(want) {
			t.Fatalf("report %d changed by the upgrade", seq)
		}
	}
	gaps, err := s.SequenceGaps(ctx, devA)
	if err != nil || len(gaps) != 1 {
		t.Fatalf("gaps after upgrade: %+v %v", gaps, err)
	}
	// The unique index still makes a replay a duplicate, and a different body a conflict.
	if r := ingest(t, s, devA, report(3)); !r.Duplicate || r.Conflict {
		t.Fatalf("replay after upgrade: %+v", r)
	}
	if r := ingest(t, s, devA, report(2)); r.Duplicate {
		t.Fatalf("gap fill after upgrade: %+v", r)
	}
	if r := ingest(t, s, devA, report(4)); r.Duplicate || r.HighestSequence != 4 {
		t.Fatalf("new report after upgrade: %+v", r)
	}
	sums, err := s.Reports(ctx, devA, 10)
	if err != nil || len(sums) != 4 {
		t.Fatalf("reports listed after upgrade: %+v %v", sums, err)
	}
}
