package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func (s *SQLite) SetAgentHealth(ctx context.Context, deviceID string, h AgentHealth) (AgentHealth, error) {
	var prev AgentHealth
	// The common case (nothing changed) is answered from a reader, without queueing a write.
	err := s.queryRow(ctx, `SELECT spool_evicted, agent_sha256, agent_platform, agent_hb_version, pinned_cas FROM devices WHERE id = ?`, deviceID).
		Scan(&prev.Evicted, &prev.SHA256, &prev.Platform, &prev.Version, &prev.PinnedCAs)
	if errors.Is(err, sql.ErrNoRows) {
		return prev, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	if err != nil || prev == h {
		return prev, err
	}
	err = s.relaxed(ctx, func(ctx context.Context, tx txConn) error {
		err := tx.QueryRowContext(ctx, `SELECT spool_evicted, agent_sha256, agent_platform, agent_hb_version, pinned_cas FROM devices WHERE id = ?`, deviceID).
			Scan(&prev.Evicted, &prev.SHA256, &prev.Platform, &prev.Version, &prev.PinnedCAs)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
		}
		if err != nil || prev == h {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE devices SET spool_evicted = ?, agent_sha256 = ?, agent_platform = ?, agent_hb_version = ?, pinned_cas = ? WHERE id = ?`,
			h.Evicted, h.SHA256, h.Platform, h.Version, h.PinnedCAs, deviceID)
		return err
	})
	return prev, err
}

func (s *SQLite) DeleteCollectorFinding(ctx context.Context, deviceID, signal, key string) (bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, `DELETE FROM findings WHERE device_id = ? AND source = 'collector' AND signal = ? AND key = ?`, deviceID, signal, signal+"|"+key)
	if err != nil {
		return false, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET findings_count = (SELECT COUNT(*) FROM findings WHERE device_id = devices.id) WHERE id = ?`, deviceID); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

func (s *SQLite) SilentDevices(ctx context.Context, cutoff time.Time) ([]SilentDevice, error) {
	rows, err := s.query(ctx, `SELECT d.id, d.last_seen, d.enrolled_at, COALESCE((SELECT MAX(f.severity) FROM findings f WHERE f.device_id = d.id AND f.signal = 'agent.silent' AND f.source = 'collector'), 0)
		FROM devices d WHERE d.revoked_at = 0 AND MAX(d.last_seen, d.enrolled_at) < ? ORDER BY d.id`, ms(cutoff))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SilentDevice
	for rows.Next() {
		var d SilentDevice
		var last, enrolled int64
		var sev int32
		if err := rows.Scan(&d.ID, &last, &enrolled, &sev); err != nil {
			return nil, err
		}
		d.Flagged = pb.Severity(sev)
		d.LastSeen, d.EnrolledAt = fromMS(last), fromMS(enrolled)
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *SQLite) SilentFlaggedSeen(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, `SELECT f.device_id FROM findings f JOIN devices d ON d.id = f.device_id
		WHERE f.signal = 'agent.silent' AND f.source = 'collector' AND d.last_seen > f.last_seen ORDER BY f.device_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (s *SQLite) PinningCounts(ctx context.Context, fingerprint string, since time.Time) (int, int, error) {
	var pinning, not int
	err := s.queryRow(ctx, `SELECT COALESCE(SUM(instr(pinned_cas, ?) > 0), 0), COALESCE(SUM(instr(pinned_cas, ?) = 0), 0)
		FROM devices WHERE revoked_at = 0 AND last_seen >= ?`, fingerprint, fingerprint, ms(since)).Scan(&pinning, &not)
	return pinning, not, err
}
