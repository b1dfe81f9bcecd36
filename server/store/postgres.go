package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// Postgres is the store on a PostgreSQL server, for collectors that run as several replicas
// against one database. Every method has the SQLite store's semantics. Writers that change a
// device's findings or sequence state lock the device's row first (in id order when there are
// several), so that replicas ingesting for the same device at once stay consistent. Commits
// are durable as the server's synchronous_commit makes them (on by default: leave it on).
type Postgres struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the database dsn names (a postgres:// URL or key=value pairs, as
// libpq takes them) and applies pending migrations. Replicas may open it at the same time:
// migrations run one at a time under a transaction-scoped advisory lock.
func OpenPostgres(ctx context.Context, dsn string, logger *slog.Logger) (*Postgres, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Postgres{pool: pool, log: logger}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	var sc string
	if err := pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sc); err == nil && sc == "off" {
		logger.Warn("postgres synchronous_commit is off: an acknowledged report may be lost if the server crashes")
	}
	return s, nil
}

// Close closes the connection pool.
func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}

// pgMigrationLock is the advisory lock key migrations run under ("farmwatc").
const pgMigrationLock int64 = 0x6661726d77617463

type pgMigration struct {
	version int
	name    string
	body    string
}

func (s *Postgres) migrate(ctx context.Context) error {
	names, err := fs.Glob(postgresMigrations, "migrations/postgres/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var migs []pgMigration
	for _, name := range names {
		base := name[strings.LastIndex(name, "/")+1:]
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", base)
		}
		body, err := postgresMigrations.ReadFile(name)
		if err != nil {
			return err
		}
		migs = append(migs, pgMigration{version: v, name: base, body: string(body)})
	}
	for {
		done, err := s.migrateNext(ctx, migs)
		if err != nil || done {
			return err
		}
	}
}

// migrateNext applies the first pending migration in its own transaction, holding the
// migration lock so that replicas starting together apply each migration once. It says when
// there was none left.
func (s *Postgres) migrateNext(ctx context.Context, migs []pgMigration) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
		return false, fmt.Errorf("migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrations table: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("schema version: %w", err)
	}
	if len(migs) < current {
		return false, fmt.Errorf("database schema version %d is newer than this collector knows (%d): upgrade the collector", current, len(migs))
	}
	for _, m := range migs {
		if m.version <= current {
			continue
		}
		// No arguments: the simple protocol, which runs the file's several statements.
		if _, err := tx.Exec(ctx, m.body); err != nil {
			return false, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, m.version, ms(time.Now())); err != nil {
			return false, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return false, fmt.Errorf("migration %s: %w", m.name, err)
		}
		s.log.Info("applied schema migration", "version", m.version, "file", m.name)
		return false, nil
	}
	return true, tx.Commit(ctx)
}

// errPgRetry asks pgTx to run the transaction again (a race it lost, e.g. two replicas
// inserting the same new device).
var errPgRetry = errors.New("postgres: retry transaction")

// pgRetryable says whether a transaction failed only because of concurrent ones.
func pgRetryable(err error) bool {
	if errors.Is(err, errPgRetry) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") // serialization_failure, deadlock_detected
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func pgUnique(err error) bool     { return pgCode(err) == "23505" }
func pgForeignKey(err error) bool { return pgCode(err) == "23503" }

// pgTx runs fn in a transaction and commits, running it again (a few times, after a short
// random wait) when it lost a deadlock or serialization conflict to another transaction.
func (s *Postgres) pgTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	const attempts = 5
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || attempt == attempts || !pgRetryable(err) {
			if errors.Is(err, errPgRetry) {
				err = fmt.Errorf("postgres: transaction still conflicting after %d attempts", attempts)
			}
			return err
		}
		s.log.Debug("postgres transaction retried", "attempt", attempt, "err", err)
		wait := time.Duration(attempt) * time.Duration(1+rand.IntN(10)) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// pgLockDevice locks one device's row against other writers of its sequence state and
// findings until the transaction ends; ErrNotFound when there is none.
func pgLockDevice(ctx context.Context, tx pgx.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM devices WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("device %s: %w", id, ErrNotFound)
	}
	return err
}

func (s *Postgres) CreateEnrollSecret(ctx context.Context, e EnrollSecret) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO enroll_secrets (id, name, hash, created_at, created_by, device_group) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.ID, e.Name, e.Hash, ms(e.CreatedAt), e.CreatedBy, e.Group)
	if pgUnique(err) {
		return fmt.Errorf("enroll secret %q: %w", e.Name, ErrExists)
	}
	return err
}

func (s *Postgres) EnrollSecrets(ctx context.Context) ([]EnrollSecret, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+secretCols+` FROM enroll_secrets ORDER BY created_at, name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, scanSecret)
}

// rowScanner is a row of either backend (database/sql or pgx).
type rowScanner = interface{ Scan(...any) error }

// pgCollect scans every row with scan; nil when there are none.
func pgCollect[T any](rows pgx.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *Postgres) EnrollSecretByHash(ctx context.Context, hash []byte) (EnrollSecret, error) {
	e, err := scanSecret(s.pool.QueryRow(ctx, `SELECT `+secretCols+` FROM enroll_secrets WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrNotFound
	}
	return e, err
}

func (s *Postgres) RevokeEnrollSecret(ctx context.Context, idOrName string, at time.Time) (EnrollSecret, error) {
	var e EnrollSecret
	err := s.pgTx(ctx, func(tx pgx.Tx) error {
		var err error
		e, err = scanSecret(tx.QueryRow(ctx, `SELECT `+secretCols+` FROM enroll_secrets WHERE id = $1 OR name = $1 FOR UPDATE`, idOrName))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("enroll secret %q: %w", idOrName, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if e.Active() {
			e.RevokedAt = at.UTC()
			if _, err := tx.Exec(ctx, `UPDATE enroll_secrets SET revoked_at = $1 WHERE id = $2`, ms(at), e.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return e, err
}

func (s *Postgres) Enroll(ctx context.Context, e Enrollment) error {
	d := e.Device
	macs, _ := json.Marshal(nonNil(d.MACAddresses))
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		var revoked int64
		err := tx.QueryRow(ctx, `SELECT revoked_at FROM devices WHERE id = $1 FOR NO KEY UPDATE`, d.ID).Scan(&revoked)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			var tag pgconn.CommandTag
			tag, err = tx.Exec(ctx, `INSERT INTO devices (id, hostname, os, platform, os_version, kernel_version, arch, hardware_uuid,
				serial_number, machine_id, mac_addresses, agent_version, enrolled_at, enroll_secret_id, last_seen, last_address, device_group)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $13, $15, COALESCE((SELECT device_group FROM enroll_secrets WHERE id = $14), ''))
				ON CONFLICT (id) DO NOTHING`,
				d.ID, d.Hostname, d.OS, d.Platform, d.OSVersion, d.KernelVersion, d.Arch, d.HardwareUUID, d.SerialNumber, d.MachineID,
				string(macs), d.AgentVersion, ms(d.EnrolledAt), d.EnrollSecret, d.LastAddress)
			if err == nil && tag.RowsAffected() == 0 {
				return errPgRetry // another replica enrolled it just now: take the re-enrollment path
			}
		case err != nil:
		case revoked != 0:
			return fmt.Errorf("device %s: %w", d.ID, ErrRevoked)
		default:
			// Re-enrollment with the same key (e.g. after a lost certificate): refresh identity,
			// keep history and sequence state.
			_, err = tx.Exec(ctx, `UPDATE devices SET hostname = $1, os = $2, platform = $3, os_version = $4, kernel_version = $5, arch = $6,
				hardware_uuid = $7, serial_number = $8, machine_id = $9, mac_addresses = $10, agent_version = $11, enroll_secret_id = $12,
				last_seen = $13, last_address = $14 WHERE id = $15`,
				d.Hostname, d.OS, d.Platform, d.OSVersion, d.KernelVersion, d.Arch, d.HardwareUUID, d.SerialNumber, d.MachineID,
				string(macs), d.AgentVersion, d.EnrollSecret, ms(d.EnrolledAt), d.LastAddress, d.ID)
		}
		if err != nil {
			return fmt.Errorf("store device %s: %w", d.ID, err)
		}
		if err := pgInsertCert(ctx, tx, e.Certificate); err != nil {
			return err
		}
		if d.EnrollSecret != "" {
			if _, err := tx.Exec(ctx, `UPDATE enroll_secrets SET uses = uses + 1, last_used = $1 WHERE id = $2`, ms(d.EnrolledAt), d.EnrollSecret); err != nil {
				return err
			}
		}
		return nil
	})
}

func pgInsertCert(ctx context.Context, tx pgx.Tx, c Certificate) error {
	_, err := tx.Exec(ctx, `INSERT INTO certificates (serial, device_id, not_before, not_after, issued_at) VALUES ($1, $2, $3, $4, $5)`,
		c.Serial, c.DeviceID, ms(c.NotBefore), ms(c.NotAfter), ms(c.IssuedAt))
	if err != nil {
		return fmt.Errorf("store certificate %s: %w", c.Serial, err)
	}
	return nil
}

func (s *Postgres) AddCertificate(ctx context.Context, c Certificate) error {
	return s.pgTx(ctx, func(tx pgx.Tx) error { return pgInsertCert(ctx, tx, c) })
}

func (s *Postgres) CertificateStatus(ctx context.Context, serial string) (Certificate, error) {
	var c Certificate
	var nb, na, issued, revoked, devRevoked int64
	err := s.pool.QueryRow(ctx, `SELECT c.serial, c.device_id, c.not_before, c.not_after, c.issued_at, c.revoked_at, d.revoked_at
		FROM certificates c JOIN devices d ON d.id = c.device_id WHERE c.serial = $1`, serial).
		Scan(&c.Serial, &c.DeviceID, &nb, &na, &issued, &revoked, &devRevoked)
	if errors.Is(err, pgx.ErrNoRows) {
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

func (s *Postgres) RevokeDevice(ctx context.Context, id string, at time.Time) error {
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0`, ms(at), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM devices WHERE id = $1`, id).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("device %s: %w", id, ErrNotFound)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE certificates SET revoked_at = $1 WHERE device_id = $2 AND revoked_at = 0`, ms(at), id)
		return err
	})
}

// pgFirstSeenByKey maps the keys of the findings that match where to their first_seen.
func pgFirstSeenByKey(ctx context.Context, tx pgx.Tx, where string, args ...any) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `SELECT key, first_seen FROM findings WHERE `+where, args...)
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

func (s *Postgres) HighestSequence(ctx context.Context, deviceID string) (uint64, error) {
	var highest uint64
	err := s.pool.QueryRow(ctx, `SELECT highest_sequence FROM devices WHERE id = $1 AND revoked_at = 0`, deviceID).Scan(&highest)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return highest, err
}

func (s *Postgres) TouchMany(ctx context.Context, seen []Seen) error {
	if len(seen) == 0 {
		return nil
	}
	ids, ats, addrs := make([]string, len(seen)), make([]int64, len(seen)), make([]string, len(seen))
	for i, d := range seen {
		ids[i], ats[i], addrs[i] = d.DeviceID, ms(d.At), d.Address
	}
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		// Locked in id order first, as ingest locks devices, so that the two never deadlock.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM devices WHERE id = ANY($1) ORDER BY id COLLATE "C" FOR NO KEY UPDATE`, ids); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE devices d SET last_seen = GREATEST(d.last_seen, t.at),
			last_address = CASE WHEN t.at >= d.last_seen THEN t.addr ELSE d.last_address END
			FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t (id, at, addr) WHERE d.id = t.id AND d.revoked_at = 0`, ids, ats, addrs)
		return err
	})
}

// pgDeviceSorts are the ORDER BY columns of the device list; text orders bytewise as in SQLite.
var pgDeviceSorts = map[string]string{
	"":          "last_seen",
	"last_seen": "last_seen",
	"hostname":  `hostname COLLATE "C"`,
	"findings":  "findings_count",
	"score":     "score",
	"enrolled":  "enrolled_at",
}

// pgLike escapes s for LIKE ... ESCAPE '\'.
func pgLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (s *Postgres) Devices(ctx context.Context, f DeviceFilter) ([]Device, int, error) {
	col, ok := pgDeviceSorts[f.Sort]
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// SQLite's LIKE ignores ASCII case: ILIKE.
	if f.Search != "" {
		p := arg("%" + pgLike(f.Search) + "%")
		where = append(where, `(id ILIKE `+p+` ESCAPE '\' OR hostname ILIKE `+p+` ESCAPE '\' OR serial_number ILIKE `+p+` ESCAPE '\' OR last_address ILIKE `+p+` ESCAPE '\')`)
	}
	if f.OS != "" {
		where = append(where, `os = `+arg(f.OS))
	}
	if f.Band != "" {
		where = append(where, `band = `+arg(f.Band))
	}
	if f.MinBand != "" {
		bands := map[string][]string{"low": {"low", "medium", "high", "critical"}, "medium": {"medium", "high", "critical"}, "high": {"high", "critical"}, "critical": {"critical"}}[f.MinBand]
		if bands == nil {
			return nil, 0, fmt.Errorf("unknown band %q", f.MinBand)
		}
		where = append(where, `band = ANY(`+arg(bands)+`)`)
	}
	if f.Signal != "" {
		if fam, ok := strings.CutSuffix(f.Signal, ".*"); ok {
			where = append(where, `id IN (SELECT device_id FROM findings WHERE signal ILIKE `+arg(pgLike(fam)+".%")+` ESCAPE '\')`)
		} else {
			where = append(where, `id IN (SELECT device_id FROM findings WHERE signal = `+arg(f.Signal)+`)`)
		}
	}
	if f.Group != "" {
		where = append(where, `device_group = `+arg(f.Group))
	}
	if f.Triage != "" {
		where = append(where, `triage_state = `+arg(f.Triage))
	}
	if !f.SeenSince.IsZero() {
		where = append(where, `last_seen >= `+arg(ms(f.SeenSince)))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM devices`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	// Page through the (sort column, id) index alone, then read the page's rows.
	q := `SELECT id FROM devices` + cond + ` ORDER BY ` + col + ` ` + dir + `, id COLLATE "C" ` + dir
	q += ` LIMIT ` + arg(f.Limit) + ` OFFSET ` + arg(f.Offset)
	idRows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	ids, err := pgx.CollectRows(idRows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, err
	}
	if len(ids) == 0 {
		return nil, total, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgCollect(rows, scanDevice)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]Device, len(list))
	for _, d := range list {
		byID[d.ID] = d
	}
	out := make([]Device, 0, len(ids))
	for _, id := range ids {
		if d, ok := byID[id]; ok {
			out = append(out, d)
		}
	}
	return out, total, nil
}

func (s *Postgres) Device(ctx context.Context, id string) (Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("device %s: %w", id, ErrNotFound)
	}
	return d, err
}

func (s *Postgres) Findings(ctx context.Context, deviceID string) ([]Finding, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, source
		FROM findings WHERE device_id = $1 ORDER BY severity DESC, signal COLLATE "C", key COLLATE "C"`, deviceID)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, func(row rowScanner) (Finding, error) {
		f := Finding{DeviceID: deviceID}
		var sev int32
		var ev string
		var first, last int64
		if err := row.Scan(&f.Key, &f.Sequence, &f.Signal, &sev, &f.Confidence, &f.Title, &f.Attack, &f.Detector, &ev, &first, &last, &f.Source); err != nil {
			return f, err
		}
		f.Severity = pb.Severity(sev)
		f.FirstSeen, f.LastSeen = fromMS(first), fromMS(last)
		if err := json.Unmarshal([]byte(ev), &f.Evidence); err != nil {
			return f, fmt.Errorf("finding %s evidence: %w", f.Key, err)
		}
		return f, nil
	})
}

func (s *Postgres) Facts(ctx context.Context, deviceID string) (*pb.Facts, time.Time, error) {
	var body []byte
	var received int64
	err := s.pool.QueryRow(ctx, `SELECT r.body, d.facts_received FROM devices d
		LEFT JOIN reports r ON r.device_id = d.id AND r.sequence = d.highest_sequence WHERE d.id = $1`, deviceID).Scan(&body, &received)
	if errors.Is(err, pgx.ErrNoRows) {
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

func (s *Postgres) SequenceGaps(ctx context.Context, deviceID string) ([]Gap, error) {
	// Below history_from, reports may have been pruned: the count starts there.
	rows, err := s.pool.Query(ctx, `SELECT prev, sequence FROM (
		SELECT r.sequence, COALESCE(LAG(r.sequence) OVER (ORDER BY r.sequence), GREATEST(d.history_from, 1) - 1) AS prev
		FROM reports r JOIN devices d ON d.id = r.device_id WHERE r.device_id = $1 AND r.sequence >= d.history_from
	) AS s WHERE sequence > prev + 1 ORDER BY sequence`, deviceID)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, func(row rowScanner) (Gap, error) {
		var prev, seq uint64
		err := row.Scan(&prev, &seq)
		return Gap{From: prev + 1, To: seq - 1}, err
	})
}

func (s *Postgres) Report(ctx context.Context, deviceID string, seq uint64) (*pb.Report, error) {
	var body []byte
	err := s.pool.QueryRow(ctx, `SELECT body FROM reports WHERE device_id = $1 AND sequence = $2`, deviceID, int64(seq)).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
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

func (s *Postgres) CreateUser(ctx context.Context, u User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (username, password_hash, role, created_at, disabled) VALUES ($1, $2, $3, $4, $5)`,
		u.Username, u.PasswordHash, u.Role, ms(u.CreatedAt), boolInt(u.Disabled))
	if pgUnique(err) {
		return fmt.Errorf("user %q: %w", u.Username, ErrExists)
	}
	return err
}

func pgScanUser(sc rowScanner) (User, error) {
	var u User
	var created int64
	var disabled int
	err := sc.Scan(&u.Username, &u.PasswordHash, &u.Role, &created, &disabled)
	u.CreatedAt, u.Disabled = fromMS(created), disabled != 0
	return u, err
}

func (s *Postgres) User(ctx context.Context, username string) (User, error) {
	u, err := pgScanUser(s.pool.QueryRow(ctx, `SELECT username, password_hash, role, created_at, disabled FROM users WHERE username = $1`, username))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	return u, err
}

func (s *Postgres) Users(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, `SELECT username, password_hash, role, created_at, disabled FROM users ORDER BY username COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, pgScanUser)
}

func (s *Postgres) CreateSession(ctx context.Context, ss Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (id_hash, username, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		ss.IDHash, ss.Username, ss.CSRFToken, ms(ss.CreatedAt), ms(ss.ExpiresAt))
	return err
}

func (s *Postgres) Session(ctx context.Context, idHash []byte, now time.Time) (Session, error) {
	var ss Session
	var created, expires int64
	err := s.pool.QueryRow(ctx, `SELECT s.id_hash, s.username, s.csrf_token, s.created_at, s.expires_at FROM sessions s
		JOIN users u ON u.username = s.username WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled = 0`, idHash, ms(now)).
		Scan(&ss.IDHash, &ss.Username, &ss.CSRFToken, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return ss, ErrNotFound
	}
	ss.CreatedAt, ss.ExpiresAt = fromMS(created), fromMS(expires)
	return ss, err
}

func (s *Postgres) DeleteSession(ctx context.Context, idHash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return err
}

func (s *Postgres) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, ms(now))
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

func (s *Postgres) Audit(ctx context.Context, a AuditEntry) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		ms(a.At), a.Actor, a.Action, a.Target, a.Detail)
	return err
}

func (s *Postgres) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, func(row rowScanner) (AuditEntry, error) {
		var a AuditEntry
		var at int64
		err := row.Scan(&at, &a.Actor, &a.Action, &a.Target, &a.Detail)
		a.At = fromMS(at)
		return a, err
	})
}

// PruneReports implements Store. The devices whose reports go are locked first, in id order,
// as ingest locks them: a replay of a report being pruned waits instead of deadlocking.
func (s *Postgres) PruneReports(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.pgTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT r.device_id, r.sequence FROM reports r JOIN devices d ON d.id = r.device_id
			WHERE r.received < $1 AND r.sequence <> d.highest_sequence ORDER BY r.received LIMIT $2`, ms(cutoff), limit)
		if err != nil {
			return err
		}
		var ids []string
		var seqs []int64
		for rows.Next() {
			var id string
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				rows.Close()
				return err
			}
			ids, seqs = append(ids, id), append(seqs, seq)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(ids) == 0 {
			return err
		}
		devs := slices.Clone(ids)
		slices.Sort(devs)
		if _, err := pgLockDevices(ctx, tx, slices.Compact(devs)); err != nil {
			return err
		}
		// Still not the newest once locked: a report stored meanwhile only makes it older.
		tag, err := tx.Exec(ctx, `DELETE FROM reports r USING unnest($1::text[], $2::bigint[]) AS v (device_id, sequence), devices d
			WHERE r.device_id = v.device_id AND r.sequence = v.sequence AND d.id = r.device_id AND r.sequence <> d.highest_sequence`, ids, seqs)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `UPDATE devices d SET history_from = GREATEST(d.history_from, v.upto + 1)
			FROM (SELECT device_id, MAX(sequence) AS upto FROM unnest($1::text[], $2::bigint[]) AS t (device_id, sequence) GROUP BY device_id) AS v
			WHERE d.id = v.device_id`, ids, seqs)
		return err
	})
	return n, err
}
