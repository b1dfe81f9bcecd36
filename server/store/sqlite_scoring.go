package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func (s *SQLite) SetScore(ctx context.Context, deviceID string, sc Score) error {
	return s.relaxed(ctx, func(ctx context.Context, tx txConn) error {
		r, err := tx.ExecContext(ctx, `UPDATE devices SET breakdown = ?, policy_version = ?, scored_at = ? WHERE id = ?`,
			string(sc.Breakdown), sc.PolicyVersion, ms(sc.At), deviceID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
		}
		// Score and band are indexed, and an UPDATE rewrites the index entries of the columns
		// it sets: they are set only when they change, which most rescores do not.
		_, err = tx.ExecContext(ctx, `UPDATE devices SET score = ?, band = ? WHERE id = ? AND (score <> ? OR band <> ?)`,
			sc.Value, sc.Band, deviceID, sc.Value, sc.Band)
		return err
	})
}

func (s *SQLite) SetDeviceGroup(ctx context.Context, deviceID, group string) error {
	r, err := s.w.ExecContext(ctx, `UPDATE devices SET device_group = ? WHERE id = ?`, group, deviceID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return nil
}

func (s *SQLite) DeviceIDs(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, `SELECT id FROM devices WHERE revoked_at = 0 ORDER BY id`)
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

func (s *SQLite) ReplaceFleet(ctx context.Context, clusters []Cluster, fs map[string][]*pb.Finding, at time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM clusters`); err != nil {
		return err
	}
	for _, c := range clusters {
		members, _ := json.Marshal(nonNil(c.Members))
		kinds, _ := json.Marshal(nonNil(c.Kinds))
		links, err := json.Marshal(c.Links)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO clusters (id, members, kinds, links, first, last, updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.ID, string(members), string(kinds), string(links), ms(c.First), ms(c.Last), ms(at)); err != nil {
			return fmt.Errorf("store cluster %s: %w", c.ID, err)
		}
	}
	// Fleet findings: keep first_seen of those still present, drop the rest.
	prev := map[[2]string]int64{}
	rows, err := tx.QueryContext(ctx, `SELECT device_id, key, first_seen FROM findings WHERE source = 'collector' AND detector = ?`, DetectorFleet)
	if err != nil {
		return err
	}
	touched := map[string]bool{}
	for rows.Next() {
		var d, k string
		var first int64
		if err := rows.Scan(&d, &k, &first); err != nil {
			rows.Close()
			return err
		}
		prev[[2]string{d, k}] = first
		touched[d] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM findings WHERE source = 'collector' AND detector = ?`, DetectorFleet); err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO findings (device_id, key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, source)
		SELECT ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'collector' WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?)
		ON CONFLICT (device_id, key) DO NOTHING`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for dev, list := range fs {
		touched[dev] = true
		for _, f := range list {
			key := FindingKey(f)
			ev, err := json.Marshal(f.GetEvidence())
			if err != nil {
				return err
			}
			first := ms(at)
			if p, ok := prev[[2]string{dev, key}]; ok {
				first = p
			}
			if _, err := stmt.ExecContext(ctx, dev, key, f.GetSignal(), int32(f.GetSeverity()), f.GetConfidence(), f.GetTitle(), f.GetAttack(),
				DetectorFleet, string(ev), first, ms(at), dev); err != nil {
				return fmt.Errorf("store fleet finding %s/%s: %w", dev, key, err)
			}
		}
	}
	for dev := range touched {
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET findings_count = (SELECT COUNT(*) FROM findings WHERE device_id = devices.id) WHERE id = ?`, dev); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *SQLite) Clusters(ctx context.Context) ([]Cluster, error) {
	rows, err := s.query(ctx, `SELECT id, members, kinds, links, first, last, updated FROM clusters`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Cluster
	for rows.Next() {
		var c Cluster
		var members, kinds, links string
		var first, last, updated int64
		if err := rows.Scan(&c.ID, &members, &kinds, &links, &first, &last, &updated); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(members), &c.Members); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(kinds), &c.Kinds); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(links), &c.Links); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.ID, err)
		}
		c.First, c.Last, c.Updated = fromMS(first), fromMS(last), fromMS(updated)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Largest first, then by id.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && (len(out[j].Members) > len(out[j-1].Members) || len(out[j].Members) == len(out[j-1].Members) && out[j].ID < out[j-1].ID); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

func (s *SQLite) SavePolicy(ctx context.Context, p PolicyRecord) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO policies (version, content, created_at, created_by, activated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (version) DO UPDATE SET activated_at = excluded.activated_at`,
		p.Version, p.Content, ms(p.CreatedAt), p.CreatedBy, ms(p.ActivatedAt))
	return err
}

func (s *SQLite) Policies(ctx context.Context, limit int) ([]PolicyRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.query(ctx, `SELECT version, content, created_at, created_by, activated_at FROM policies ORDER BY activated_at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PolicyRecord
	for rows.Next() {
		var p PolicyRecord
		var created, activated int64
		if err := rows.Scan(&p.Version, &p.Content, &created, &p.CreatedBy, &activated); err != nil {
			return nil, err
		}
		p.CreatedAt, p.ActivatedAt = fromMS(created), fromMS(activated)
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *SQLite) PutCollectorFinding(ctx context.Context, deviceID string, f *pb.Finding, at time.Time) error {
	ev, err := json.Marshal(f.GetEvidence())
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, `INSERT INTO findings (device_id, key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, source)
		SELECT ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'collector' WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?)
		ON CONFLICT (device_id, key) DO UPDATE SET severity = excluded.severity, confidence = excluded.confidence, title = excluded.title,
			evidence = excluded.evidence, last_seen = excluded.last_seen WHERE findings.source = 'collector'`,
		deviceID, FindingKey(f), f.GetSignal(), int32(f.GetSeverity()), f.GetConfidence(), f.GetTitle(), f.GetAttack(), f.GetDetector(), string(ev), ms(at), ms(at), deviceID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE id = ?`, deviceID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET findings_count = (SELECT COUNT(*) FROM findings WHERE device_id = devices.id) WHERE id = ?`, deviceID); err != nil {
		return err
	}
	return tx.Commit()
}
