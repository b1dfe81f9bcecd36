package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

func (s *SQLite) SetTriage(ctx context.Context, deviceID string, t Triage) error {
	if !ValidTriage(t.State) {
		return fmt.Errorf("triage state %q: want new, investigating, confirmed_farm or benign", t.State)
	}
	r, err := s.w.ExecContext(ctx, `UPDATE devices SET triage_state = ?, triage_reason = ?, triage_assignee = ?, triage_by = ?, triage_at = ? WHERE id = ?`,
		t.State, t.Reason, t.Assignee, t.By, ms(t.At), deviceID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return nil
}

func (s *SQLite) AddNote(ctx context.Context, n Note) (Note, error) {
	r, err := s.w.ExecContext(ctx, `INSERT INTO device_notes (device_id, at, author, body) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?)`,
		n.DeviceID, ms(n.At), n.Author, n.Body, n.DeviceID)
	if err != nil {
		return n, err
	}
	if c, _ := r.RowsAffected(); c == 0 {
		return n, fmt.Errorf("device %s: %w", n.DeviceID, ErrNotFound)
	}
	n.ID, _ = r.LastInsertId()
	return n, nil
}

func (s *SQLite) Notes(ctx context.Context, deviceID string) ([]Note, error) {
	rows, err := s.query(ctx, `SELECT id, at, author, body FROM device_notes WHERE device_id = ? ORDER BY at DESC, id DESC LIMIT 500`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Note
	for rows.Next() {
		n := Note{DeviceID: deviceID}
		var at int64
		if err := rows.Scan(&n.ID, &at, &n.Author, &n.Body); err != nil {
			return nil, err
		}
		n.At = fromMS(at)
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s *SQLite) Reports(ctx context.Context, deviceID string, limit int) ([]ReportSummary, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.query(ctx, `SELECT sequence, created, received, address, findings_count FROM reports WHERE device_id = ? ORDER BY sequence DESC LIMIT ?`, deviceID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReportSummary
	for rows.Next() {
		var r ReportSummary
		var created, received int64
		if err := rows.Scan(&r.Sequence, &created, &received, &r.Address, &r.Findings); err != nil {
			return nil, err
		}
		r.Created, r.Received = fromMS(created), fromMS(received)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *SQLite) Overview(ctx context.Context, now time.Time, days int) (Overview, error) {
	o := Overview{ByBand: map[string]int{}, ByTriage: map[string]int{}}
	rows, err := s.query(ctx, `SELECT band, triage_state, CAST(MIN(score, 99.99) / 10 AS INTEGER), COUNT(*) FROM devices WHERE revoked_at = 0 GROUP BY 1, 2, 3`)
	if err != nil {
		return o, err
	}
	for rows.Next() {
		var band, triage string
		var bin, n int
		if err := rows.Scan(&band, &triage, &bin, &n); err != nil {
			rows.Close()
			return o, err
		}
		o.Devices += n
		o.ByBand[band] += n
		o.ByTriage[triage] += n
		if band != "" && bin >= 0 && bin < 10 {
			o.ScoreBins[bin] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return o, err
	}
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM clusters`).Scan(&o.Clusters); err != nil {
		return o, err
	}
	if days <= 0 || days > 366 {
		days = 30
	}
	since := now.Add(-time.Duration(days) * 24 * time.Hour)
	rows, err = s.query(ctx, `SELECT first_seen / 86400000, signal, COUNT(*) FROM findings WHERE first_seen >= ? GROUP BY 1, 2 ORDER BY 1, 2`, ms(since))
	if err != nil {
		return o, err
	}
	for rows.Next() {
		var day int64
		var sd SignalDay
		if err := rows.Scan(&day, &sd.Signal, &sd.Count); err != nil {
			rows.Close()
			return o, err
		}
		sd.Day = time.Unix(day*86400, 0).UTC()
		o.Signals = append(o.Signals, sd)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return o, err
	}
	rows, err = s.query(ctx, `SELECT `+deviceCols+` FROM devices WHERE revoked_at = 0 AND band IN ('high', 'critical') ORDER BY scored_at DESC, score DESC LIMIT 10`)
	if err != nil {
		return o, err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return o, err
		}
		o.NewestHigh = append(o.NewestHigh, d)
	}
	return o, rows.Err()
}

func (s *SQLite) CreateAPIToken(ctx context.Context, t APIToken) error {
	if !ValidRole(t.Role) {
		return fmt.Errorf("role %q: want viewer, analyst or admin", t.Role)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO api_tokens (id, name, hash, role, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Hash, t.Role, ms(t.CreatedAt), t.CreatedBy)
	if isConstraint(err) {
		return fmt.Errorf("API token %q: %w", t.Name, ErrExists)
	}
	return err
}

const tokenCols = `id, name, hash, role, created_at, created_by, last_used, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var created, used, revoked int64
	err := sc.Scan(&t.ID, &t.Name, &t.Hash, &t.Role, &created, &t.CreatedBy, &used, &revoked)
	t.CreatedAt, t.LastUsed, t.RevokedAt = fromMS(created), fromMS(used), fromMS(revoked)
	return t, err
}

func (s *SQLite) APITokenByHash(ctx context.Context, hash []byte, now time.Time) (APIToken, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ? AND revoked_at = 0`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	// Last use at minute resolution: one write a minute per token at most.
	if now.Sub(t.LastUsed) >= time.Minute {
		_, _ = s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, ms(now), t.ID)
		t.LastUsed = now
	}
	return t, nil
}

func (s *SQLite) APITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := s.query(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY created_at, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *SQLite) RevokeAPIToken(ctx context.Context, idOrName string, at time.Time) error {
	r, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at = 0`, ms(at), idOrName, idOrName)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("API token %q: %w", idOrName, ErrNotFound)
	}
	return nil
}

func (s *SQLite) SaveCatalog(ctx context.Context, version string, content []byte, by string, at time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO catalogs (version, content, created_at, created_by, activated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (version) DO UPDATE SET activated_at = excluded.activated_at`, version, content, ms(at), by, ms(at))
	return err
}

func (s *SQLite) Catalogs(ctx context.Context, limit int) ([]CatalogRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.query(ctx, `SELECT version, created_at, created_by, activated_at, length(content) FROM catalogs ORDER BY activated_at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CatalogRecord
	for rows.Next() {
		var c CatalogRecord
		var created, activated int64
		if err := rows.Scan(&c.Version, &created, &c.CreatedBy, &activated, &c.Size); err != nil {
			return nil, err
		}
		c.CreatedAt, c.ActivatedAt = fromMS(created), fromMS(activated)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *SQLite) ActiveCatalog(ctx context.Context) (CatalogRecord, []byte, error) {
	var c CatalogRecord
	var content []byte
	var created, activated int64
	err := s.queryRow(ctx, `SELECT version, created_at, created_by, activated_at, content FROM catalogs ORDER BY activated_at DESC LIMIT 1`).
		Scan(&c.Version, &created, &c.CreatedBy, &activated, &content)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil, ErrNotFound
	}
	c.CreatedAt, c.ActivatedAt, c.Size = fromMS(created), fromMS(activated), len(content)
	return c, content, err
}

func (s *SQLite) SetUserDisabled(ctx context.Context, username string, disabled bool) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE username = ?`, boolInt(disabled), username)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	if disabled {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE username = ?`, username); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *SQLite) SetUserRole(ctx context.Context, username, role string) error {
	if !ValidRole(role) {
		return fmt.Errorf("role %q: want viewer, analyst or admin", role)
	}
	r, err := s.w.ExecContext(ctx, `UPDATE users SET role = ? WHERE username = ?`, role, username)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	return nil
}
