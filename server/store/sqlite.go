package store

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// SQLite is the embedded store: one database file in WAL mode, one writer connection
// (SQLite serialises writers anyway) and a pool of readers. Commits are synchronous=FULL so that
// an acknowledged report survives power loss, not only a crash of the process.
type SQLite struct {
	w   *sql.DB
	r   *sql.DB
	wc  *stmtCache // statements on the writer, learnt after the transactions that used them
	rc  *stmtCache // statements on the readers
	log *slog.Logger

	relaxedJobs chan *relaxedJob
	closing     chan struct{}
	relaxedDone chan struct{}
	closeOnce   sync.Once
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens (creating if needed) the database at path and applies pending migrations.
func OpenSQLite(ctx context.Context, path string, logger *slog.Logger) (*SQLite, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The database holds password, token and secret hashes and every device's data: owner
	// only. SQLite gives its -wal and -shm files the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	} else {
		f.Close()
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("database %s: %w", p, err)
		}
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4) // kept open, with the statements prepared on them
	s := &SQLite{w: w, r: r, wc: &stmtCache{db: w}, rc: &stmtCache{db: r}, log: logger, relaxedJobs: make(chan *relaxedJob, MaxRelaxedBatch), closing: make(chan struct{}), relaxedDone: make(chan struct{})}
	go s.runRelaxed()
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.relaxedDone
		s.wc.close()
		s.rc.close()
	})
	return errors.Join(s.r.Close(), s.w.Close())
}

func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	names, err := fs.Glob(sqliteMigrations, "migrations/sqlite/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var current int
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version),0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if len(names) < current {
		return fmt.Errorf("database schema version %d is newer than this collector knows (%d): upgrade the collector", current, len(names))
	}
	for _, name := range names {
		base := name[strings.LastIndex(name, "/")+1:]
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", base)
		}
		if v <= current {
			continue
		}
		body, err := sqliteMigrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, ms(time.Now())); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		s.log.Info("applied schema migration", "version", v, "file", base)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func (s *SQLite) CreateEnrollSecret(ctx context.Context, e EnrollSecret) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO enroll_secrets (id, name, hash, created_at, created_by, device_group) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, e.Name, e.Hash, ms(e.CreatedAt), e.CreatedBy, e.Group)
	if isConstraint(err) {
		return fmt.Errorf("enroll secret %q: %w", e.Name, ErrExists)
	}
	return err
}

const secretCols = `id, name, hash, created_at, created_by, revoked_at, uses, last_used, device_group`

func scanSecret(sc interface{ Scan(...any) error }) (EnrollSecret, error) {
	var e EnrollSecret
	var created, revoked, last int64
	err := sc.Scan(&e.ID, &e.Name, &e.Hash, &created, &e.CreatedBy, &revoked, &e.Uses, &last, &e.Group)
	e.CreatedAt, e.RevokedAt, e.LastUsed = fromMS(created), fromMS(revoked), fromMS(last)
	return e, err
}

func (s *SQLite) EnrollSecrets(ctx context.Context) ([]EnrollSecret, error) {
	rows, err := s.query(ctx, `SELECT `+secretCols+` FROM enroll_secrets ORDER BY created_at, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EnrollSecret
	for rows.Next() {
		e, err := scanSecret(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *SQLite) EnrollSecretByHash(ctx context.Context, hash []byte) (EnrollSecret, error) {
	e, err := scanSecret(s.queryRow(ctx, `SELECT `+secretCols+` FROM enroll_secrets WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	return e, err
}

func (s *SQLite) RevokeEnrollSecret(ctx context.Context, idOrName string, at time.Time) (EnrollSecret, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return EnrollSecret{}, err
	}
	defer tx.Rollback()
	e, err := scanSecret(tx.QueryRowContext(ctx, `SELECT `+secretCols+` FROM enroll_secrets WHERE id = ? OR name = ?`, idOrName, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("enroll secret %q: %w", idOrName, ErrNotFound)
	}
	if err != nil {
		return e, err
	}
	if e.Active() {
		e.RevokedAt = at.UTC()
		if _, err := tx.ExecContext(ctx, `UPDATE enroll_secrets SET revoked_at = ? WHERE id = ?`, ms(at), e.ID); err != nil {
			return e, err
		}
	}
	return e, tx.Commit()
}

func (s *SQLite) Enroll(ctx context.Context, e Enrollment) error {
	d := e.Device
	macs, _ := json.Marshal(nonNil(d.MACAddresses))
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var revoked int64
	err = tx.QueryRowContext(ctx, `SELECT revoked_at FROM devices WHERE id = ?`, d.ID).Scan(&revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO devices (id, hostname, os, platform, os_version, kernel_version, arch, hardware_uuid,
			serial_number, machine_id, mac_addresses, agent_version, enrolled_at, enroll_secret_id, last_seen, last_address, device_group)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE((SELECT device_group FROM enroll_secrets WHERE id = ?), ''))`,
			d.ID, d.Hostname, d.OS, d.Platform, d.OSVersion, d.KernelVersion, d.Arch, d.HardwareUUID, d.SerialNumber, d.MachineID,
			string(macs), d.AgentVersion, ms(d.EnrolledAt), d.EnrollSecret, ms(d.EnrolledAt), d.LastAddress, d.EnrollSecret)
	case err != nil:
	case revoked != 0:
		return fmt.Errorf("device %s: %w", d.ID, ErrRevoked)
	default:
		// Re-enrollment with the same key (e.g. after a lost certificate): refresh identity,
		// keep history and sequence state.
		_, err = tx.ExecContext(ctx, `UPDATE devices SET hostname = ?, os = ?, platform = ?, os_version = ?, kernel_version = ?, arch = ?,
			hardware_uuid = ?, serial_number = ?, machine_id = ?, mac_addresses = ?, agent_version = ?, enroll_secret_id = ?,
			last_seen = ?, last_address = ? WHERE id = ?`,
			d.Hostname, d.OS, d.Platform, d.OSVersion, d.KernelVersion, d.Arch, d.HardwareUUID, d.SerialNumber, d.MachineID,
			string(macs), d.AgentVersion, d.EnrollSecret, ms(d.EnrolledAt), d.LastAddress, d.ID)
	}
	if err != nil {
		return fmt.Errorf("store device %s: %w", d.ID, err)
	}
	if err := insertCert(ctx, tx, e.Certificate); err != nil {
		return err
	}
	if d.EnrollSecret != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE enroll_secrets SET uses = uses + 1, last_used = ? WHERE id = ?`, ms(d.EnrolledAt), d.EnrollSecret); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func insertCert(ctx context.Context, tx *sql.Tx, c Certificate) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO certificates (serial, device_id, not_before, not_after, issued_at) VALUES (?, ?, ?, ?, ?)`,
		c.Serial, c.DeviceID, ms(c.NotBefore), ms(c.NotAfter), ms(c.IssuedAt))
	if err != nil {
		return fmt.Errorf("store certificate %s: %w", c.Serial, err)
	}
	return nil
}

func (s *SQLite) AddCertificate(ctx context.Context, c Certificate) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := insertCert(ctx, tx, c); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *SQLite) CertificateStatus(ctx context.Context, serial string) (Certificate, error) {
	var c Certificate
	var nb, na, issued, revoked, devRevoked int64
	err := s.queryRow(ctx, `SELECT c.serial, c.device_id, c.not_before, c.not_after, c.issued_at, c.revoked_at, d.revoked_at
		FROM certificates c JOIN devices d ON d.id = c.device_id WHERE c.serial = ?`, serial).
		Scan(&c.Serial, &c.DeviceID, &nb, &na, &issued, &revoked, &devRevoked)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, err
	}
	c.NotBefore, c.NotAfter, c.IssuedAt, c.RevokedAt = fromMS(nb), fromMS(na), fromMS(issued), fromMS(revoked)
	if revoked != 0 || devRevoked != 0 {
		return c, ErrRevoked
	}
	return c, nil
}

func (s *SQLite) RevokeDevice(ctx context.Context, id string, at time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, ms(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM devices WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("device %s: %w", id, ErrNotFound)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE certificates SET revoked_at = ? WHERE device_id = ? AND revoked_at = 0`, ms(at), id); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *SQLite) IngestReport(ctx context.Context, in Ingest) (IngestResult, error) {
	tx, err := s.beginDurable(ctx)
	if err != nil {
		return IngestResult{}, err
	}
	defer tx.Rollback()
	res, err := ingestTx(ctx, tx, in)
	if err != nil {
		return res, err
	}
	return res, tx.Commit()
}

func (s *SQLite) IngestReports(ctx context.Context, batch []Ingest) ([]IngestResult, []error, error) {
	res, errs := make([]IngestResult, len(batch)), make([]error, len(batch))
	tx, err := s.beginDurable(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	ct := s.newCachedTx(tx)
	defer ct.close()
	for i, in := range batch {
		res[i], errs[i] = ingestTx(ctx, ct, in)
		if errs[i] != nil && !errors.Is(errs[i], ErrNotFound) && !errors.Is(errs[i], ErrRevoked) {
			return nil, nil, errs[i]
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	s.wc.learn(ctx, ct.fresh)
	return res, errs, nil
}

// ingestTx stores one report inside tx. ErrNotFound and ErrRevoked come before any write, so
// tx stays usable for the rest of a batch; any other error spoils tx.
func ingestTx(ctx context.Context, tx txConn, in Ingest) (IngestResult, error) {
	var res IngestResult
	rep := in.Report
	seq := rep.GetSequence()
	var highest uint64
	var revoked, lastSeen, firstMax int64
	var hostname string
	var findings int
	var digest []byte
	err := tx.QueryRowContext(ctx, `SELECT highest_sequence, revoked_at, last_seen, hostname, findings_count, findings_digest, findings_first_max FROM devices WHERE id = ?`, in.DeviceID).
		Scan(&highest, &revoked, &lastSeen, &hostname, &findings, &digest, &firstMax)
	if errors.Is(err, sql.ErrNoRows) {
		return res, fmt.Errorf("device %s: %w", in.DeviceID, ErrNotFound)
	}
	if err != nil {
		return res, err
	}
	if revoked != 0 {
		return res, fmt.Errorf("device %s: %w", in.DeviceID, ErrRevoked)
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO reports (device_id, sequence, created, received, address, findings_count, body)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, sequence) DO NOTHING`,
		in.DeviceID, int64(seq), ms(rep.GetCreated().AsTime()), ms(in.Received), in.Address, len(rep.GetFindings()), in.stored())
	if err != nil {
		return res, fmt.Errorf("store report %s/%d: %w", in.DeviceID, seq, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		res.Duplicate = true
		res.HighestSequence = highest
		var stored []byte
		if err := tx.QueryRowContext(ctx, `SELECT body FROM reports WHERE device_id = ? AND sequence = ?`, in.DeviceID, int64(seq)).Scan(&stored); err != nil {
			return res, fmt.Errorf("read stored report %s/%d: %w", in.DeviceID, seq, err)
		}
		if res.Conflict = !sameBody(stored, in.Body); res.Conflict {
			if _, err := tx.ExecContext(ctx, `INSERT INTO report_conflicts (device_id, sequence, received, address, body) VALUES (?, ?, ?, ?, ?)`,
				in.DeviceID, int64(seq), ms(in.Received), in.Address, in.Body); err != nil {
				return res, fmt.Errorf("keep conflicting report %s/%d: %w", in.DeviceID, seq, err)
			}
			// Bounded: a cloned agent must not fill the disk. The newest are kept.
			if _, err := tx.ExecContext(ctx, `DELETE FROM report_conflicts WHERE device_id = ? AND rowid NOT IN
				(SELECT rowid FROM report_conflicts WHERE device_id = ? ORDER BY rowid DESC LIMIT ?)`, in.DeviceID, in.DeviceID, MaxConflictsKept); err != nil {
				return res, err
			}
		}
		// A replay still proves the device is alive.
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET last_seen = MAX(last_seen, ?), last_address = ? WHERE id = ?`, ms(in.Received), in.Address, in.DeviceID); err != nil {
			return res, err
		}
		return res, nil
	}
	if seq > highest+1 {
		res.GapBefore = seq - highest - 1
	}
	if seq > highest {
		fs, err := in.incomingFindings()
		if err != nil {
			return res, err
		}
		host := rep.GetFacts().GetHost()
		set := `highest_sequence = ?, report_created = ?, reports = reports + 1, facts_received = ?, last_address = ?, agent_version = ?,
			os_version = CASE WHEN ? <> '' THEN ? ELSE os_version END`
		args := []any{int64(seq), ms(rep.GetCreated().AsTime()), ms(in.Received), in.Address, rep.GetAgentVersion(), host.GetOsVersion(), host.GetOsVersion()}
		// Most reports repeat the findings of the one before. Then nothing of them is written:
		// the agent's findings take their sequence and (where they follow the report) last
		// seen from this device row; see Findings.
		if !bytes.Equal(digest, fs.digest) || fs.firstMin < firstMax {
			others, newFirstMax, err := replaceFindings(ctx, tx, in.DeviceID, int64(seq), fs.list)
			if err != nil {
				return res, err
			}
			set += `, findings_digest = ?, findings_first_max = ?`
			args = append(args, fs.digest, newFirstMax)
			if n := len(rep.GetFindings()) + others; n != findings {
				set += `, findings_count = ?`
				args = append(args, n)
			}
		}
		// An UPDATE rewrites the index entries of every column it sets, changed or not: the
		// indexed last_seen, hostname and findings_count are set only when they change.
		if ms(in.Received) > lastSeen {
			set += `, last_seen = ?`
			args = append(args, ms(in.Received))
		}
		if h := host.GetHostname(); h != "" && h != hostname {
			set += `, hostname = ?`
			args = append(args, h)
		}
		_, err = tx.ExecContext(ctx, `UPDATE devices SET `+set+` WHERE id = ?`, append(args, in.DeviceID)...)
		if err != nil {
			return res, fmt.Errorf("update device %s: %w", in.DeviceID, err)
		}
		highest = seq
	} else {
		// A late report filling an old gap: history only, current state stays with the newest.
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET reports = reports + 1, last_seen = MAX(last_seen, ?) WHERE id = ?`, ms(in.Received), in.DeviceID); err != nil {
			return res, err
		}
	}
	res.HighestSequence = highest
	return res, nil
}

// txConn is what the ingest path needs of a transaction: *sql.Tx, or a cachedTx.
type txConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// cachedTx runs each statement prepared: a batch of reports runs the same dozen statements
// hundreds of times, and parsing SQL was a third of the ingest's CPU. Statements the writer
// cache holds are reused from it; the others are prepared for this transaction and listed in
// fresh, for the cache to learn once the transaction is over.
type cachedTx struct {
	tx    *sql.Tx
	cache *stmtCache
	stmts map[string]*sql.Stmt
	fresh []string
}

func (s *SQLite) newCachedTx(tx *writerTx) *cachedTx {
	return &cachedTx{tx: tx.Tx, cache: s.wc, stmts: map[string]*sql.Stmt{}}
}

func (c *cachedTx) prep(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if p := c.cache.cached(q); p != nil {
		st = c.tx.StmtContext(ctx, p)
	} else {
		var err error
		if st, err = c.tx.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		c.fresh = append(c.fresh, q)
	}
	c.stmts[q] = st
	return st, nil
}

func (c *cachedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := c.prep(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (c *cachedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := c.prep(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *cachedTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := c.prep(ctx, q)
	if err != nil {
		return c.tx.QueryRowContext(ctx, q, args...) // carries the same error
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *cachedTx) close() {
	for _, st := range c.stmts {
		st.Close()
	}
}

// replaceFindings makes the device's current findings those of report seq (fs, from
// Ingest.incoming), keeping first_seen of findings (by key) that were already current. It
// returns how many findings of the device are the collector's (not replaced by one of the
// report's), and the latest first_seen of the agent's findings it leaves.
func replaceFindings(ctx context.Context, tx txConn, deviceID string, seq int64, fs []incomingFinding) (others int, firstMax int64, err error) {
	// Only new, changed and vanished findings are written. A finding that only moved on to
	// this report (its sequence, and its last seen where it follows the report) is not:
	// Findings takes those from the device row.
	type stored struct {
		findingRow
		last    int64
		follows bool
	}
	prev := map[string]stored{}
	var theirs []string // keys of the collector's findings
	rows, err := tx.QueryContext(ctx, `SELECT key, source, first_seen, signal, severity, confidence, title, attack, detector, evidence, last_seen, follows
		FROM findings WHERE device_id = ?`, deviceID)
	if err != nil {
		return 0, 0, err
	}
	for rows.Next() {
		var k, source string
		var r stored
		if err := rows.Scan(&k, &source, &r.first, &r.signal, &r.sev, &r.conf, &r.title, &r.attack, &r.det, &r.ev, &r.last, &r.follows); err != nil {
			rows.Close()
			return 0, 0, err
		}
		if source == "agent" {
			prev[k] = r
		} else {
			theirs = append(theirs, k)
		}
	}
	if err := rows.Close(); err != nil {
		return 0, 0, err
	}
	// A finding the agent sends under a key the collector already uses is the agent's now.
	const upsert = `INSERT INTO findings (device_id, key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, follows, source)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'agent') ON CONFLICT (device_id, key) DO UPDATE SET sequence = excluded.sequence,
		signal = excluded.signal, severity = excluded.severity, confidence = excluded.confidence, title = excluded.title, attack = excluded.attack,
		detector = excluded.detector, evidence = excluded.evidence, first_seen = MIN(findings.first_seen, excluded.first_seen),
		last_seen = excluded.last_seen, follows = excluded.follows, source = 'agent'`
	first := make(map[string]int64, len(fs)) // first_seen as stored now
	for _, in := range fs {
		p, had := prev[in.key]
		_, seen := first[in.key]
		if had && !seen && in.unchanged(p.findingRow) && in.follows == p.follows && (in.follows || in.last == p.last) {
			first[in.key] = p.first
			continue
		}
		if _, err := tx.ExecContext(ctx, upsert, append(append([]any{deviceID, in.key, seq}, in.upsertArgs()...), in.follows)...); err != nil {
			return 0, 0, fmt.Errorf("store finding %s: %w", in.key, err)
		}
		f := in.row.first
		if seen {
			f = min(f, first[in.key])
		} else if had {
			f = min(f, p.first)
		}
		first[in.key] = f
	}
	for k := range prev {
		if _, kept := first[k]; !kept {
			if _, err := tx.ExecContext(ctx, `DELETE FROM findings WHERE device_id = ? AND key = ?`, deviceID, k); err != nil {
				return 0, 0, err
			}
		}
	}
	for _, f := range first {
		firstMax = max(firstMax, f)
	}
	for _, k := range theirs {
		if _, replaced := first[k]; !replaced {
			others++
		}
	}
	return others, firstMax, nil
}

// firstSeenByKey maps the keys of the device findings that match where to their first_seen,
// so that a replacement keeps when each finding was first seen.
func firstSeenByKey(ctx context.Context, tx txConn, where string, args ...any) (map[string]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT key, first_seen FROM findings WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	prev := map[string]int64{}
	for rows.Next() {
		var k string
		var first int64
		if err := rows.Scan(&k, &first); err != nil {
			return nil, err
		}
		prev[k] = first
	}
	return prev, rows.Err()
}

// FindingKey is the identity of a finding on a device: the agent's key when it sent one, else
// the signal and title.
func FindingKey(f *pb.Finding) string {
	if f.GetKey() != "" {
		return f.GetSignal() + "|" + f.GetKey()
	}
	return f.GetSignal() + "|" + f.GetTitle()
}

func (s *SQLite) HighestSequence(ctx context.Context, deviceID string) (uint64, error) {
	var highest uint64
	err := s.queryRow(ctx, `SELECT highest_sequence FROM devices WHERE id = ? AND revoked_at = 0`, deviceID).Scan(&highest)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return highest, err
}

func (s *SQLite) TouchMany(ctx context.Context, seen []Seen) error {
	if len(seen) == 0 {
		return nil
	}
	return s.relaxed(ctx, func(ctx context.Context, tx txConn) error {
		for _, d := range seen {
			// The address is taken only from a time no older than the last seen one (a report
			// stored meanwhile may have brought a newer).
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET last_address = CASE WHEN ? >= last_seen THEN ? ELSE last_address END,
				last_seen = MAX(last_seen, ?) WHERE id = ? AND revoked_at = 0`, ms(d.At), d.Address, ms(d.At), d.DeviceID); err != nil {
				return err
			}
		}
		return nil
	})
}

const deviceCols = `id, hostname, os, platform, os_version, kernel_version, arch, hardware_uuid, serial_number, machine_id,
	mac_addresses, agent_version, enrolled_at, enroll_secret_id, last_seen, last_address, highest_sequence, reports, findings_count, revoked_at, location_notes,
	device_group, score, band, breakdown, policy_version, scored_at, triage_state, triage_reason, triage_assignee, triage_by, triage_at,
	spool_evicted, agent_sha256, agent_platform`

func scanDevice(sc interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var macs, notes, breakdown string
	var enrolled, last, revoked, scored, triaged int64
	err := sc.Scan(&d.ID, &d.Hostname, &d.OS, &d.Platform, &d.OSVersion, &d.KernelVersion, &d.Arch, &d.HardwareUUID, &d.SerialNumber,
		&d.MachineID, &macs, &d.AgentVersion, &enrolled, &d.EnrollSecret, &last, &d.LastAddress, &d.HighestSequence, &d.Reports,
		&d.FindingsCount, &revoked, &notes, &d.Group, &d.Score, &d.Band, &breakdown, &d.PolicyVersion, &scored,
		&d.Triage.State, &d.Triage.Reason, &d.Triage.Assignee, &d.Triage.By, &triaged,
		&d.Agent.Evicted, &d.Agent.SHA256, &d.Agent.Platform)
	if err != nil {
		return d, err
	}
	_ = json.Unmarshal([]byte(macs), &d.MACAddresses)
	_ = json.Unmarshal([]byte(notes), &d.LocationNotes)
	if breakdown != "" {
		d.Breakdown = []byte(breakdown)
	}
	d.ScoredAt = fromMS(scored)
	d.Triage.At = fromMS(triaged)
	d.EnrolledAt, d.LastSeen, d.RevokedAt = fromMS(enrolled), fromMS(last), fromMS(revoked)
	return d, nil
}

var deviceSorts = map[string]string{
	"":          "last_seen",
	"last_seen": "last_seen",
	"hostname":  "hostname",
	"findings":  "findings_count",
	"score":     "score",
	"enrolled":  "enrolled_at",
}

func (s *SQLite) Devices(ctx context.Context, f DeviceFilter) ([]Device, int, error) {
	col, ok := deviceSorts[f.Sort]
	if !ok {
		return nil, 0, fmt.Errorf("unknown sort %q", f.Sort)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	f.Offset = max(f.Offset, 0)
	var where []string
	var args []any
	if f.Search != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Search) + "%"
		where = append(where, `(id LIKE ? ESCAPE '\' OR hostname LIKE ? ESCAPE '\' OR serial_number LIKE ? ESCAPE '\' OR last_address LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like, like)
	}
	if f.OS != "" {
		where = append(where, `os = ?`)
		args = append(args, f.OS)
	}
	if f.Band != "" {
		where = append(where, `band = ?`)
		args = append(args, f.Band)
	}
	if f.MinBand != "" {
		bands := map[string][]any{"low": {"low", "medium", "high", "critical"}, "medium": {"medium", "high", "critical"}, "high": {"high", "critical"}, "critical": {"critical"}}[f.MinBand]
		if bands == nil {
			return nil, 0, fmt.Errorf("unknown band %q", f.MinBand)
		}
		where = append(where, `band IN (`+strings.TrimSuffix(strings.Repeat("?,", len(bands)), ",")+`)`)
		args = append(args, bands...)
	}
	if f.Signal != "" {
		if fam, ok := strings.CutSuffix(f.Signal, ".*"); ok {
			where = append(where, `id IN (SELECT device_id FROM findings WHERE signal LIKE ? ESCAPE '\')`)
			args = append(args, strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(fam)+".%")
		} else {
			where = append(where, `id IN (SELECT device_id FROM findings WHERE signal = ?)`)
			args = append(args, f.Signal)
		}
	}
	if f.Group != "" {
		where = append(where, `device_group = ?`)
		args = append(args, f.Group)
	}
	if f.Triage != "" {
		where = append(where, `triage_state = ?`)
		args = append(args, f.Triage)
	}
	if !f.SeenSince.IsZero() {
		where = append(where, `last_seen >= ?`)
		args = append(args, ms(f.SeenSince))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	// Page through the (sort column, id) index alone, then read the page's rows: a deep page
	// skips index entries instead of sorting every row.
	idRows, err := s.r.QueryContext(ctx, `SELECT id FROM devices`+cond+` ORDER BY `+col+` `+dir+`, id `+dir+` LIMIT ? OFFSET ?`,
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	var ids []any
	for idRows.Next() {
		var id string
		if err := idRows.Scan(&id); err != nil {
			idRows.Close()
			return nil, 0, err
		}
		ids = append(ids, id)
	}
	idRows.Close()
	if err := idRows.Err(); err != nil {
		return nil, 0, err
	}
	if len(ids) == 0 {
		return nil, total, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`)`, ids...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	byID := make(map[string]Device, len(ids))
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, 0, err
		}
		byID[d.ID] = d
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out := make([]Device, 0, len(ids))
	for _, id := range ids {
		if d, ok := byID[id.(string)]; ok {
			out = append(out, d)
		}
	}
	return out, total, nil
}

func (s *SQLite) Device(ctx context.Context, id string) (Device, error) {
	d, err := scanDevice(s.queryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("device %s: %w", id, ErrNotFound)
	}
	return d, err
}

func (s *SQLite) Findings(ctx context.Context, deviceID string) ([]Finding, error) {
	// The agent's findings are all of its newest report (the ingest deletes the others), and
	// those that follow it have last been seen when it was made: neither is written again
	// while a device repeats its findings (see replaceFindings).
	rows, err := s.query(ctx, `SELECT f.key, CASE WHEN f.source = 'agent' THEN d.highest_sequence ELSE f.sequence END, f.signal, f.severity, f.confidence,
		f.title, f.attack, f.detector, f.evidence, f.first_seen, CASE WHEN f.follows = 1 THEN d.report_created ELSE f.last_seen END, f.source
		FROM findings f JOIN devices d ON d.id = f.device_id WHERE f.device_id = ? ORDER BY f.severity DESC, f.signal, f.key`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		f := Finding{DeviceID: deviceID}
		var sev int32
		var ev string
		var first, last int64
		if err := rows.Scan(&f.Key, &f.Sequence, &f.Signal, &sev, &f.Confidence, &f.Title, &f.Attack, &f.Detector, &ev, &first, &last, &f.Source); err != nil {
			return nil, err
		}
		f.Severity = pb.Severity(sev)
		f.FirstSeen, f.LastSeen = fromMS(first), fromMS(last)
		if err := json.Unmarshal([]byte(ev), &f.Evidence); err != nil {
			return nil, fmt.Errorf("finding %s evidence: %w", f.Key, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *SQLite) Facts(ctx context.Context, deviceID string) (*pb.Facts, time.Time, error) {
	var body []byte
	var received int64
	err := s.queryRow(ctx, `SELECT r.body, d.facts_received FROM devices d
		LEFT JOIN reports r ON r.device_id = d.id AND r.sequence = d.highest_sequence WHERE d.id = ?`, deviceID).Scan(&body, &received)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	if body == nil {
		return nil, time.Time{}, nil
	}
	if body, err = UnpackBody(body); err != nil {
		return nil, time.Time{}, fmt.Errorf("device %s facts: %w", deviceID, err)
	}
	f, err := factsFromReport(body)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("device %s facts: %w", deviceID, err)
	}
	return f, fromMS(received), nil
}

func (s *SQLite) SequenceGaps(ctx context.Context, deviceID string) ([]Gap, error) {
	// Below history_from, reports may have been pruned: the count starts there.
	rows, err := s.query(ctx, `SELECT prev, sequence FROM (
		SELECT r.sequence, COALESCE(LAG(r.sequence) OVER (ORDER BY r.sequence), MAX(d.history_from, 1) - 1) AS prev
		FROM reports r JOIN devices d ON d.id = r.device_id WHERE r.device_id = ? AND r.sequence >= d.history_from
	) WHERE sequence > prev + 1 ORDER BY sequence`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Gap
	for rows.Next() {
		var prev, seq uint64
		if err := rows.Scan(&prev, &seq); err != nil {
			return nil, err
		}
		out = append(out, Gap{From: prev + 1, To: seq - 1})
	}
	return out, rows.Err()
}

func (s *SQLite) Report(ctx context.Context, deviceID string, seq uint64) (*pb.Report, error) {
	var body []byte
	err := s.queryRow(ctx, `SELECT body FROM reports WHERE device_id = ? AND sequence = ?`, deviceID, int64(seq)).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("report %s/%d: %w", deviceID, seq, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if body, err = UnpackBody(body); err != nil {
		return nil, fmt.Errorf("report %s/%d: %w", deviceID, seq, err)
	}
	r := &pb.Report{}
	if err := proto.Unmarshal(body, r); err != nil {
		return nil, fmt.Errorf("report %s/%d: %w", deviceID, seq, err)
	}
	return r, nil
}

func (s *SQLite) CreateUser(ctx context.Context, u User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (username, password_hash, role, created_at, disabled) VALUES (?, ?, ?, ?, ?)`,
		u.Username, u.PasswordHash, u.Role, ms(u.CreatedAt), u.Disabled)
	if isConstraint(err) {
		return fmt.Errorf("user %q: %w", u.Username, ErrExists)
	}
	return err
}

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var created int64
	err := sc.Scan(&u.Username, &u.PasswordHash, &u.Role, &created, &u.Disabled)
	u.CreatedAt = fromMS(created)
	return u, err
}

func (s *SQLite) User(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT username, password_hash, role, created_at, disabled FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	return u, err
}

func (s *SQLite) Users(ctx context.Context) ([]User, error) {
	rows, err := s.query(ctx, `SELECT username, password_hash, role, created_at, disabled FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *SQLite) CreateSession(ctx context.Context, ss Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id_hash, username, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		ss.IDHash, ss.Username, ss.CSRFToken, ms(ss.CreatedAt), ms(ss.ExpiresAt))
	return err
}

func (s *SQLite) Session(ctx context.Context, idHash []byte, now time.Time) (Session, error) {
	var ss Session
	var created, expires int64
	err := s.queryRow(ctx, `SELECT s.id_hash, s.username, s.csrf_token, s.created_at, s.expires_at FROM sessions s
		JOIN users u ON u.username = s.username WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled = 0`, idHash, ms(now)).
		Scan(&ss.IDHash, &ss.Username, &ss.CSRFToken, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, ErrNotFound
	}
	ss.CreatedAt, ss.ExpiresAt = fromMS(created), fromMS(expires)
	return ss, err
}

func (s *SQLite) DeleteSession(ctx context.Context, idHash []byte) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return err
}

func (s *SQLite) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	r, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, ms(now))
	if err != nil {
		return 0, err
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}

func (s *SQLite) Audit(ctx context.Context, a AuditEntry) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`,
		ms(a.At), a.Actor, a.Action, a.Target, a.Detail)
	return err
}

func (s *SQLite) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	rows, err := s.query(ctx, `SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var at int64
		if err := rows.Scan(&at, &a.Actor, &a.Action, &a.Target, &a.Detail); err != nil {
			return nil, err
		}
		a.At = fromMS(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

func isConstraint(err error) bool {
	return err != nil && strings.Contains(err.Error(), "constraint failed")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// PruneReports implements Store. It runs as a relaxed write (synchronous=NORMAL): a prune lost
// to a power cut is simply done again.
func (s *SQLite) PruneReports(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tx, err := s.beginRelaxed(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `DELETE FROM reports WHERE rowid IN (
		SELECT r.rowid FROM reports r JOIN devices d ON d.id = r.device_id
		WHERE r.received < ? AND r.sequence <> d.highest_sequence ORDER BY r.received LIMIT ?)
		RETURNING device_id, sequence`, ms(cutoff), limit)
	if err != nil {
		return 0, err
	}
	upTo := map[string]uint64{} // the highest sequence pruned, per device
	n := 0
	for rows.Next() {
		var id string
		var seq uint64
		if err := rows.Scan(&id, &seq); err != nil {
			rows.Close()
			return 0, err
		}
		upTo[id] = max(upTo[id], seq)
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for id, seq := range upTo {
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET history_from = MAX(history_from, ?) WHERE id = ?`, int64(seq+1), id); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}
