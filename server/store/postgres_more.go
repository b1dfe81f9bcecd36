package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Agent health, silence, CA pinning (sqlite_health.go).

func (s *Postgres) SetAgentHealth(ctx context.Context, deviceID string, h AgentHealth) (AgentHealth, error) {
	var prev AgentHealth
	err := s.pgTx(ctx, func(tx pgx.Tx) error {
		prev = AgentHealth{}
		err := tx.QueryRow(ctx, `SELECT spool_evicted, agent_sha256, agent_platform, agent_hb_version, pinned_cas FROM devices WHERE id = $1 FOR NO KEY UPDATE`, deviceID).
			Scan(&prev.Evicted, &prev.SHA256, &prev.Platform, &prev.Version, &prev.PinnedCAs)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if prev == h {
			return nil // the common case: nothing to write
		}
		_, err = tx.Exec(ctx, `UPDATE devices SET spool_evicted = $1, agent_sha256 = $2, agent_platform = $3, agent_hb_version = $4, pinned_cas = $5 WHERE id = $6`,
			int64(h.Evicted), h.SHA256, h.Platform, h.Version, h.PinnedCAs, deviceID)
		return err
	})
	return prev, err
}

func (s *Postgres) DeleteCollectorFinding(ctx context.Context, deviceID, signal, key string) (bool, error) {
	var deleted bool
	err := s.pgTx(ctx, func(tx pgx.Tx) error {
		deleted = false
		if err := pgLockDevice(ctx, tx, deviceID); errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM findings WHERE device_id = $1 AND source = 'collector' AND signal = $2 AND key = $3`, deviceID, signal, signal+"|"+key)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE devices SET findings_count = (SELECT COUNT(*) FROM findings WHERE device_id = devices.id) WHERE id = $1`, deviceID); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	return deleted, err
}

func (s *Postgres) SilentDevices(ctx context.Context, cutoff time.Time) ([]SilentDevice, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.last_seen, d.enrolled_at, COALESCE((SELECT MAX(f.severity) FROM findings f WHERE f.device_id = d.id AND f.signal = 'agent.silent' AND f.source = 'collector'), 0)
		FROM devices d WHERE d.revoked_at = 0 AND GREATEST(d.last_seen, d.enrolled_at) < $1 ORDER BY d.id COLLATE "C"`, ms(cutoff))
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, func(row rowScanner) (SilentDevice, error) {
		var d SilentDevice
		var last, enrolled int64
		var sev int32
		err := row.Scan(&d.ID, &last, &enrolled, &sev)
		d.Flagged = pb.Severity(sev)
		d.LastSeen, d.EnrolledAt = fromMS(last), fromMS(enrolled)
		return d, err
	})
}

func (s *Postgres) SilentFlaggedSeen(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT f.device_id FROM findings f JOIN devices d ON d.id = f.device_id
		WHERE f.signal = 'agent.silent' AND f.source = 'collector' AND d.last_seen > f.last_seen ORDER BY f.device_id COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *Postgres) PinningCounts(ctx context.Context, fingerprint string, since time.Time) (int, int, error) {
	var pinning, not int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FILTER (WHERE strpos(pinned_cas, $1) > 0), COUNT(*) FILTER (WHERE strpos(pinned_cas, $1) = 0)
		FROM devices WHERE revoked_at = 0 AND last_seen >= $2`, fingerprint, ms(since)).Scan(&pinning, &not)
	return pinning, not, err
}

// Location: collector findings, HR import, egress, round trips (sqlite_location.go).

func (s *Postgres) ReplaceCollectorFindings(ctx context.Context, deviceID string, fs []*pb.Finding, notes []string, at time.Time) error {
	notesJSON, err := json.Marshal(nonNil(notes))
	if err != nil {
		return err
	}
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		if err := pgLockDevice(ctx, tx, deviceID); err != nil {
			return err
		}
		prev, err := pgFirstSeenByKey(ctx, tx, `device_id = $1 AND source = 'collector' AND detector = $2`, deviceID, DetectorLocation)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM findings WHERE device_id = $1 AND source = 'collector' AND detector = $2`, deviceID, DetectorLocation)
		for _, f := range fs {
			key := FindingKey(f)
			ev, err := json.Marshal(f.GetEvidence())
			if err != nil {
				return err
			}
			first := ms(at)
			if p, ok := prev[key]; ok {
				first = p
			}
			// An agent finding under the same key wins: the collector's copy is dropped.
			b.Queue(`INSERT INTO findings (device_id, key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, source)
				VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'collector') ON CONFLICT (device_id, key) DO NOTHING`,
				deviceID, key, f.GetSignal(), int32(f.GetSeverity()), f.GetConfidence(), f.GetTitle(), f.GetAttack(), DetectorLocation, string(ev), first, ms(at))
		}
		b.Queue(`UPDATE devices SET findings_count = (SELECT COUNT(*) FROM findings WHERE device_id = devices.id), location_notes = $1 WHERE id = $2`,
			string(notesJSON), deviceID)
		return tx.SendBatch(ctx, b).Close()
	})
}

func (s *Postgres) ReplacePeople(ctx context.Context, people []Person, at time.Time) error {
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		// One import at a time: two replicas importing at once must not interleave.
		if _, err := tx.Exec(ctx, `LOCK TABLE people IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM people`); err != nil {
			return err
		}
		for _, p := range people {
			langs, err := json.Marshal(nonNil(p.Languages))
			if err != nil {
				return err
			}
			var lat, lon *float64
			if p.HasCoordinates {
				lat, lon = &p.Latitude, &p.Longitude
			}
			if _, err := tx.Exec(ctx, `INSERT INTO people (employee_id, name, email, country, region, city, time_zone, latitude, longitude,
				languages, night_shift, device_serial, device_hostname, imported_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
				p.EmployeeID, p.Name, p.Email, p.Country, p.Region, p.City, p.TimeZone, lat, lon,
				string(langs), boolInt(p.NightShift), p.DeviceSerial, strings.ToLower(p.DeviceHostname), ms(at)); err != nil {
				if pgUnique(err) {
					return fmt.Errorf("employee %q: %w", p.EmployeeID, ErrExists)
				}
				return err
			}
		}
		return nil
	})
}

func pgScanPerson(sc rowScanner) (Person, error) {
	var p Person
	var lat, lon *float64
	var langs string
	var night int
	var imported int64
	if err := sc.Scan(&p.EmployeeID, &p.Name, &p.Email, &p.Country, &p.Region, &p.City, &p.TimeZone, &lat, &lon, &langs, &night,
		&p.DeviceSerial, &p.DeviceHostname, &imported); err != nil {
		return p, err
	}
	if lat != nil && lon != nil {
		p.HasCoordinates, p.Latitude, p.Longitude = true, *lat, *lon
	}
	if err := json.Unmarshal([]byte(langs), &p.Languages); err != nil {
		return p, fmt.Errorf("employee %s languages: %w", p.EmployeeID, err)
	}
	p.NightShift = night != 0
	p.ImportedAt = fromMS(imported)
	return p, nil
}

func (s *Postgres) People(ctx context.Context) ([]Person, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+personColumns+` FROM people ORDER BY employee_id COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, pgScanPerson)
}

func (s *Postgres) PeopleImported(ctx context.Context) (time.Time, int, error) {
	var at int64
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(imported_at), 0), COUNT(*) FROM people`).Scan(&at, &n)
	if at == 0 {
		return time.Time{}, n, err
	}
	return fromMS(at), n, err
}

func (s *Postgres) PersonForDevice(ctx context.Context, d Device) (Person, error) {
	if d.SerialNumber != "" {
		p, err := pgScanPerson(s.pool.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE device_serial = $1 ORDER BY employee_id COLLATE "C" LIMIT 1`, d.SerialNumber))
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return p, err
		}
	}
	if d.Hostname != "" {
		p, err := pgScanPerson(s.pool.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE device_hostname = $1 ORDER BY employee_id COLLATE "C" LIMIT 1`, strings.ToLower(d.Hostname)))
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return p, err
		}
	}
	return Person{}, fmt.Errorf("employee for device %s: %w", d.ID, ErrNotFound)
}

func (s *Postgres) RecordEgress(ctx context.Context, deviceID string, e Egress) (Egress, error) {
	row := s.pool.QueryRow(ctx, `INSERT INTO egress (device_id, address, first_seen, last_seen, seen, country, asn, as_org, class)
		VALUES ($1, $2, $3, $3, 1, $4, $5, $6, $7)
		ON CONFLICT (device_id, address) DO UPDATE SET last_seen = GREATEST(egress.last_seen, excluded.last_seen), seen = egress.seen + 1
		RETURNING address, first_seen, last_seen, seen, country, asn, as_org, class`,
		deviceID, e.Address, ms(e.LastSeen), e.Country, int64(e.ASN), e.ASOrg, e.Class)
	out, err := scanEgress(row)
	if pgForeignKey(err) {
		return out, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return out, err
}

func (s *Postgres) Egresses(ctx context.Context, deviceID string) ([]Egress, error) {
	rows, err := s.pool.Query(ctx, `SELECT address, first_seen, last_seen, seen, country, asn, as_org, class FROM egress
		WHERE device_id = $1 ORDER BY last_seen DESC, address COLLATE "C"`, deviceID)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, scanEgress)
}

func (s *Postgres) RecordRTT(ctx context.Context, deviceID string, rtt time.Duration, addr string, at time.Time, window time.Duration) (RTT, error) {
	row := s.pool.QueryRow(ctx, `INSERT INTO rtt (device_id, min_micros, samples, window_start, updated, address) VALUES ($1, $2, 1, $3, $3, $4)
		ON CONFLICT (device_id) DO UPDATE SET
			min_micros   = CASE WHEN $3 - rtt.window_start > $5 THEN excluded.min_micros ELSE LEAST(rtt.min_micros, excluded.min_micros) END,
			samples      = CASE WHEN $3 - rtt.window_start > $5 THEN 1 ELSE rtt.samples + 1 END,
			address      = CASE WHEN $3 - rtt.window_start > $5 OR excluded.min_micros < rtt.min_micros THEN excluded.address ELSE rtt.address END,
			window_start = CASE WHEN $3 - rtt.window_start > $5 THEN excluded.window_start ELSE rtt.window_start END,
			updated      = excluded.updated
		RETURNING min_micros, samples, window_start, updated, address`,
		deviceID, rtt.Microseconds(), ms(at), addr, window.Milliseconds())
	out, err := scanRTT(row)
	if pgForeignKey(err) {
		return out, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return out, err
}

func (s *Postgres) RTT(ctx context.Context, deviceID string) (RTT, error) {
	r, err := scanRTT(s.pool.QueryRow(ctx, `SELECT min_micros, samples, window_start, updated, address FROM rtt WHERE device_id = $1`, deviceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return RTT{}, nil
	}
	return r, err
}

// Scores, groups, clusters, policies (sqlite_scoring.go).

// pgExecOne runs a one-row UPDATE of a device and says ErrNotFound when there was none.
func (s *Postgres) pgExecDevice(ctx context.Context, deviceID, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return nil
}

func (s *Postgres) SetScore(ctx context.Context, deviceID string, sc Score) error {
	return s.pgExecDevice(ctx, deviceID, `UPDATE devices SET score = $1, band = $2, breakdown = $3, policy_version = $4, scored_at = $5 WHERE id = $6`,
		sc.Value, sc.Band, string(sc.Breakdown), sc.PolicyVersion, ms(sc.At), deviceID)
}

func (s *Postgres) SetDeviceGroup(ctx context.Context, deviceID, group string) error {
	return s.pgExecDevice(ctx, deviceID, `UPDATE devices SET device_group = $1 WHERE id = $2`, group, deviceID)
}

func (s *Postgres) DeviceIDs(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM devices WHERE revoked_at = 0 ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *Postgres) ReplaceFleet(ctx context.Context, clusters []Cluster, fs map[string][]*pb.Finding, at time.Time) error {
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		// One fleet replacement at a time (replicas may run the correlation together); readers
		// are not blocked.
		if _, err := tx.Exec(ctx, `LOCK TABLE clusters IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM clusters`); err != nil {
			return err
		}
		for _, c := range clusters {
			members, _ := json.Marshal(nonNil(c.Members))
			kinds, _ := json.Marshal(nonNil(c.Kinds))
			links, err := json.Marshal(c.Links)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO clusters (id, members, kinds, links, first, last, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				c.ID, string(members), string(kinds), string(links), ms(c.First), ms(c.Last), ms(at)); err != nil {
				return fmt.Errorf("store cluster %s: %w", c.ID, err)
			}
		}
		// Fleet findings: keep first_seen of those still present, drop the rest.
		prev := map[[2]string]int64{}
		rows, err := tx.Query(ctx, `SELECT device_id, key, first_seen FROM findings WHERE source = 'collector' AND detector = $1`, DetectorFleet)
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
		for dev := range fs {
			touched[dev] = true
		}
		ids := make([]string, 0, len(touched))
		for dev := range touched {
			ids = append(ids, dev)
		}
		sort.Strings(ids)
		// The devices' rows, in the order ingest takes them, before their findings.
		devs, err := pgLockDevices(ctx, tx, ids)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM findings WHERE source = 'collector' AND detector = $1`, DetectorFleet)
		for dev, list := range fs {
			if devs[dev] == nil {
				continue // not (or no longer) a device
			}
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
				b.Queue(`INSERT INTO findings (device_id, key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, source)
					VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'collector') ON CONFLICT (device_id, key) DO NOTHING`,
					dev, key, f.GetSignal(), int32(f.GetSeverity()), f.GetConfidence(), f.GetTitle(), f.GetAttack(), DetectorFleet, string(ev), first, ms(at))
			}
		}
		b.Queue(`UPDATE devices SET findings_count = (SELECT COUNT(*) FROM findings WHERE device_id = devices.id) WHERE id = ANY($1)`, ids)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("store fleet findings: %w", err)
		}
		return nil
	})
}

func (s *Postgres) Clusters(ctx context.Context) ([]Cluster, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, members, kinds, links, first, last, updated FROM clusters`)
	if err != nil {
		return nil, err
	}
	out, err := pgCollect(rows, func(row rowScanner) (Cluster, error) {
		var c Cluster
		var members, kinds, links string
		var first, last, updated int64
		if err := row.Scan(&c.ID, &members, &kinds, &links, &first, &last, &updated); err != nil {
			return c, err
		}
		if err := json.Unmarshal([]byte(members), &c.Members); err != nil {
			return c, fmt.Errorf("cluster %s: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(kinds), &c.Kinds); err != nil {
			return c, fmt.Errorf("cluster %s: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(links), &c.Links); err != nil {
			return c, fmt.Errorf("cluster %s: %w", c.ID, err)
		}
		c.First, c.Last, c.Updated = fromMS(first), fromMS(last), fromMS(updated)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	// Largest first, then by id.
	sort.SliceStable(out, func(i, j int) bool {
		if len(out[i].Members) != len(out[j].Members) {
			return len(out[i].Members) > len(out[j].Members)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *Postgres) SavePolicy(ctx context.Context, p PolicyRecord) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO policies (version, content, created_at, created_by, activated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (version) DO UPDATE SET activated_at = excluded.activated_at`,
		p.Version, pgBytes(p.Content), ms(p.CreatedAt), p.CreatedBy, ms(p.ActivatedAt))
	return err
}

// pgBytes keeps an empty blob from becoming NULL in a NOT NULL column.
func pgBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (s *Postgres) Policies(ctx context.Context, limit int) ([]PolicyRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT version, content, created_at, created_by, activated_at FROM policies ORDER BY activated_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, func(row rowScanner) (PolicyRecord, error) {
		var p PolicyRecord
		var created, activated int64
		err := row.Scan(&p.Version, &p.Content, &created, &p.CreatedBy, &activated)
		p.CreatedAt, p.ActivatedAt = fromMS(created), fromMS(activated)
		return p, err
	})
}

func (s *Postgres) PutCollectorFinding(ctx context.Context, deviceID string, f *pb.Finding, at time.Time) error {
	ev, err := json.Marshal(f.GetEvidence())
	if err != nil {
		return err
	}
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		if err := pgLockDevice(ctx, tx, deviceID); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO findings (device_id, key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, source)
			VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $8, $9, $10, $10, 'collector')
			ON CONFLICT (device_id, key) DO UPDATE SET severity = excluded.severity, confidence = excluded.confidence, title = excluded.title,
				evidence = excluded.evidence, last_seen = excluded.last_seen WHERE findings.source = 'collector'`,
			deviceID, FindingKey(f), f.GetSignal(), int32(f.GetSeverity()), f.GetConfidence(), f.GetTitle(), f.GetAttack(), f.GetDetector(), string(ev), ms(at))
		b.Queue(`UPDATE devices SET findings_count = (SELECT COUNT(*) FROM findings WHERE device_id = devices.id) WHERE id = $1`, deviceID)
		return tx.SendBatch(ctx, b).Close()
	})
}

// Console: triage, notes, tokens, catalogs, users (sqlite_console.go).

func (s *Postgres) SetTriage(ctx context.Context, deviceID string, t Triage) error {
	if !ValidTriage(t.State) {
		return fmt.Errorf("triage state %q: want new, investigating, confirmed_farm or benign", t.State)
	}
	return s.pgExecDevice(ctx, deviceID, `UPDATE devices SET triage_state = $1, triage_reason = $2, triage_assignee = $3, triage_by = $4, triage_at = $5 WHERE id = $6`,
		t.State, t.Reason, t.Assignee, t.By, ms(t.At), deviceID)
}

func (s *Postgres) AddNote(ctx context.Context, n Note) (Note, error) {
	err := s.pool.QueryRow(ctx, `INSERT INTO device_notes (device_id, at, author, body) SELECT $1::text, $2::bigint, $3::text, $4::text
		WHERE EXISTS (SELECT 1 FROM devices WHERE id = $1) RETURNING id`,
		n.DeviceID, ms(n.At), n.Author, n.Body).Scan(&n.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return n, fmt.Errorf("device %s: %w", n.DeviceID, ErrNotFound)
	}
	return n, err
}

func (s *Postgres) Notes(ctx context.Context, deviceID string) ([]Note, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, author, body FROM device_notes WHERE device_id = $1 ORDER BY at DESC, id DESC LIMIT 500`, deviceID)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, func(row rowScanner) (Note, error) {
		n := Note{DeviceID: deviceID}
		var at int64
		err := row.Scan(&n.ID, &at, &n.Author, &n.Body)
		n.At = fromMS(at)
		return n, err
	})
}

func (s *Postgres) Reports(ctx context.Context, deviceID string, limit int) ([]ReportSummary, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT sequence, created, received, address, findings_count FROM reports WHERE device_id = $1 ORDER BY sequence DESC LIMIT $2`, deviceID, limit)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, func(row rowScanner) (ReportSummary, error) {
		var r ReportSummary
		var created, received int64
		err := row.Scan(&r.Sequence, &created, &received, &r.Address, &r.Findings)
		r.Created, r.Received = fromMS(created), fromMS(received)
		return r, err
	})
}

func (s *Postgres) Overview(ctx context.Context, now time.Time, days int) (Overview, error) {
	o := Overview{ByBand: map[string]int{}, ByTriage: map[string]int{}}
	// trunc, as SQLite's CAST AS INTEGER does (a PostgreSQL cast would round).
	rows, err := s.pool.Query(ctx, `SELECT band, triage_state, trunc(LEAST(score, 99.99) / 10)::integer, COUNT(*) FROM devices WHERE revoked_at = 0 GROUP BY 1, 2, 3`)
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
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM clusters`).Scan(&o.Clusters); err != nil {
		return o, err
	}
	if days <= 0 || days > 366 {
		days = 30
	}
	since := now.Add(-time.Duration(days) * 24 * time.Hour)
	rows, err = s.pool.Query(ctx, `SELECT first_seen / 86400000, signal, COUNT(*) FROM findings WHERE first_seen >= $1 GROUP BY 1, 2 ORDER BY 1, signal COLLATE "C"`, ms(since))
	if err != nil {
		return o, err
	}
	o.Signals, err = pgCollect(rows, func(row rowScanner) (SignalDay, error) {
		var day int64
		var sd SignalDay
		err := row.Scan(&day, &sd.Signal, &sd.Count)
		sd.Day = time.Unix(day*86400, 0).UTC()
		return sd, err
	})
	if err != nil {
		return o, err
	}
	rows, err = s.pool.Query(ctx, `SELECT `+deviceCols+` FROM devices WHERE revoked_at = 0 AND band IN ('high', 'critical') ORDER BY scored_at DESC, score DESC LIMIT 10`)
	if err != nil {
		return o, err
	}
	o.NewestHigh, err = pgCollect(rows, scanDevice)
	return o, err
}

func (s *Postgres) CreateAPIToken(ctx context.Context, t APIToken) error {
	if !ValidRole(t.Role) {
		return fmt.Errorf("role %q: want viewer, analyst or admin", t.Role)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (id, name, hash, role, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Name, t.Hash, t.Role, ms(t.CreatedAt), t.CreatedBy)
	if pgUnique(err) {
		return fmt.Errorf("API token %q: %w", t.Name, ErrExists)
	}
	return err
}

func (s *Postgres) APITokenByHash(ctx context.Context, hash []byte, now time.Time) (APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1 AND revoked_at = 0`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	// Last use at minute resolution: one write a minute per token at most.
	if now.Sub(t.LastUsed) >= time.Minute {
		_, _ = s.pool.Exec(ctx, `UPDATE api_tokens SET last_used = $1 WHERE id = $2`, ms(now), t.ID)
		t.LastUsed = now
	}
	return t, nil
}

func (s *Postgres) APITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY created_at, name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, scanToken)
}

func (s *Postgres) RevokeAPIToken(ctx context.Context, idOrName string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE (id = $2 OR name = $2) AND revoked_at = 0`, ms(at), idOrName)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("API token %q: %w", idOrName, ErrNotFound)
	}
	return nil
}

func (s *Postgres) SaveCatalog(ctx context.Context, version string, content []byte, by string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO catalogs (version, content, created_at, created_by, activated_at) VALUES ($1, $2, $3, $4, $3)
		ON CONFLICT (version) DO UPDATE SET activated_at = excluded.activated_at`, version, pgBytes(content), ms(at), by)
	return err
}

func (s *Postgres) Catalogs(ctx context.Context, limit int) ([]CatalogRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT version, created_at, created_by, activated_at, length(content) FROM catalogs ORDER BY activated_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgCollect(rows, func(row rowScanner) (CatalogRecord, error) {
		var c CatalogRecord
		var created, activated int64
		err := row.Scan(&c.Version, &created, &c.CreatedBy, &activated, &c.Size)
		c.CreatedAt, c.ActivatedAt = fromMS(created), fromMS(activated)
		return c, err
	})
}

func (s *Postgres) ActiveCatalog(ctx context.Context) (CatalogRecord, []byte, error) {
	var c CatalogRecord
	var content []byte
	var created, activated int64
	err := s.pool.QueryRow(ctx, `SELECT version, created_at, created_by, activated_at, content FROM catalogs ORDER BY activated_at DESC LIMIT 1`).
		Scan(&c.Version, &created, &c.CreatedBy, &activated, &content)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, nil, ErrNotFound
	}
	c.CreatedAt, c.ActivatedAt, c.Size = fromMS(created), fromMS(activated), len(content)
	return c, content, err
}

func (s *Postgres) SetUserDisabled(ctx context.Context, username string, disabled bool) error {
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled = $1 WHERE username = $2`, boolInt(disabled), username)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user %q: %w", username, ErrNotFound)
		}
		if disabled {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE username = $1`, username); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Postgres) SetUserRole(ctx context.Context, username, role string) error {
	if !ValidRole(role) {
		return fmt.Errorf("role %q: want viewer, analyst or admin", role)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE users SET role = $1 WHERE username = $2`, role, username)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	return nil
}
