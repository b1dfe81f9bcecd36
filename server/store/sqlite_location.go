package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func (s *SQLite) ReplaceCollectorFindings(ctx context.Context, deviceID string, fs []*pb.Finding, notes []string, at time.Time) error {
	notesJSON, err := json.Marshal(nonNil(notes))
	if err != nil {
		return err
	}
	return s.relaxed(ctx, func(ctx context.Context, tx txConn) error {
		return replaceLocationFindings(ctx, tx, deviceID, fs, string(notesJSON), at)
	})
}

func replaceLocationFindings(ctx context.Context, tx txConn, deviceID string, fs []*pb.Finding, notesJSON string, at time.Time) error {
	prev, err := firstSeenByKey(ctx, tx, `device_id = ? AND source = 'collector' AND detector = ?`, deviceID, DetectorLocation)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM findings WHERE device_id = ? AND source = 'collector' AND detector = ?`, deviceID, DetectorLocation); err != nil {
		return err
	}
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO findings (device_id, key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, source)
			VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'collector') ON CONFLICT (device_id, key) DO NOTHING`,
			deviceID, key, f.GetSignal(), int32(f.GetSeverity()), f.GetConfidence(), f.GetTitle(), f.GetAttack(), DetectorLocation, string(ev), first, ms(at)); err != nil {
			return fmt.Errorf("store finding %s: %w", key, err)
		}
	}
	r, err := tx.ExecContext(ctx, `UPDATE devices SET findings_count = (SELECT COUNT(*) FROM findings WHERE device_id = devices.id), location_notes = ? WHERE id = ?`,
		notesJSON, deviceID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return nil
}

func (s *SQLite) ReplacePeople(ctx context.Context, people []Person, at time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM people`); err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO people (employee_id, name, email, country, region, city, time_zone, latitude, longitude,
		languages, night_shift, device_serial, device_hostname, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, p := range people {
		langs, err := json.Marshal(nonNil(p.Languages))
		if err != nil {
			return err
		}
		var lat, lon any
		if p.HasCoordinates {
			lat, lon = p.Latitude, p.Longitude
		}
		if _, err := stmt.ExecContext(ctx, p.EmployeeID, p.Name, p.Email, p.Country, p.Region, p.City, p.TimeZone, lat, lon,
			string(langs), boolInt(p.NightShift), p.DeviceSerial, strings.ToLower(p.DeviceHostname), ms(at)); err != nil {
			if isConstraint(err) {
				return fmt.Errorf("employee %q: %w", p.EmployeeID, ErrExists)
			}
			return err
		}
	}
	return tx.Commit()
}

const personColumns = `employee_id, name, email, country, region, city, time_zone, latitude, longitude, languages, night_shift, device_serial, device_hostname, imported_at`

func scanPerson(sc interface{ Scan(...any) error }) (Person, error) {
	var p Person
	var lat, lon sql.NullFloat64
	var langs string
	var night int
	var imported int64
	if err := sc.Scan(&p.EmployeeID, &p.Name, &p.Email, &p.Country, &p.Region, &p.City, &p.TimeZone, &lat, &lon, &langs, &night,
		&p.DeviceSerial, &p.DeviceHostname, &imported); err != nil {
		return p, err
	}
	if lat.Valid && lon.Valid {
		p.HasCoordinates, p.Latitude, p.Longitude = true, lat.Float64, lon.Float64
	}
	if err := json.Unmarshal([]byte(langs), &p.Languages); err != nil {
		return p, fmt.Errorf("employee %s languages: %w", p.EmployeeID, err)
	}
	p.NightShift = night != 0
	p.ImportedAt = fromMS(imported)
	return p, nil
}

func (s *SQLite) People(ctx context.Context) ([]Person, error) {
	rows, err := s.query(ctx, `SELECT `+personColumns+` FROM people ORDER BY employee_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *SQLite) PeopleImported(ctx context.Context) (time.Time, int, error) {
	var at int64
	var n int
	err := s.queryRow(ctx, `SELECT COALESCE(MAX(imported_at), 0), COUNT(*) FROM people`).Scan(&at, &n)
	if at == 0 {
		return time.Time{}, n, err
	}
	return fromMS(at), n, err
}

func (s *SQLite) PersonForDevice(ctx context.Context, d Device) (Person, error) {
	if d.SerialNumber != "" {
		p, err := scanPerson(s.queryRow(ctx, `SELECT `+personColumns+` FROM people WHERE device_serial = ? ORDER BY employee_id LIMIT 1`, d.SerialNumber))
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return p, err
		}
	}
	if d.Hostname != "" {
		p, err := scanPerson(s.queryRow(ctx, `SELECT `+personColumns+` FROM people WHERE device_hostname = ? ORDER BY employee_id LIMIT 1`, strings.ToLower(d.Hostname)))
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return p, err
		}
	}
	return Person{}, fmt.Errorf("employee for device %s: %w", d.ID, ErrNotFound)
}

func (s *SQLite) RecordEgress(ctx context.Context, deviceID string, e Egress) (out Egress, err error) {
	err = s.relaxed(ctx, func(ctx context.Context, tx txConn) error {
		out, err = recordEgress(ctx, tx, deviceID, e)
		return err
	})
	return out, err
}

func recordEgress(ctx context.Context, tx txConn, deviceID string, e Egress) (Egress, error) {
	row := tx.QueryRowContext(ctx, `INSERT INTO egress (device_id, address, first_seen, last_seen, seen, country, asn, as_org, class)
		VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)
		ON CONFLICT (device_id, address) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen), seen = seen + 1
		RETURNING address, first_seen, last_seen, seen, country, asn, as_org, class`,
		deviceID, e.Address, ms(e.LastSeen), ms(e.LastSeen), e.Country, int64(e.ASN), e.ASOrg, e.Class)
	out, err := scanEgress(row)
	if isConstraint(err) {
		return out, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return out, err
}

func scanEgress(sc interface{ Scan(...any) error }) (Egress, error) {
	var e Egress
	var first, last, asn int64
	if err := sc.Scan(&e.Address, &first, &last, &e.Seen, &e.Country, &asn, &e.ASOrg, &e.Class); err != nil {
		return e, err
	}
	e.FirstSeen, e.LastSeen, e.ASN = fromMS(first), fromMS(last), uint32(asn)
	return e, nil
}

func (s *SQLite) Egresses(ctx context.Context, deviceID string) ([]Egress, error) {
	rows, err := s.query(ctx, `SELECT address, first_seen, last_seen, seen, country, asn, as_org, class FROM egress
		WHERE device_id = ? ORDER BY last_seen DESC, address`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Egress
	for rows.Next() {
		e, err := scanEgress(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *SQLite) RecordRTT(ctx context.Context, deviceID string, rtt time.Duration, addr string, at time.Time, window time.Duration) (out RTT, err error) {
	err = s.relaxed(ctx, func(ctx context.Context, tx txConn) error {
		out, err = recordRTT(ctx, tx, deviceID, rtt, addr, at, window)
		return err
	})
	return out, err
}

func recordRTT(ctx context.Context, tx txConn, deviceID string, rtt time.Duration, addr string, at time.Time, window time.Duration) (RTT, error) {
	us := rtt.Microseconds()
	row := tx.QueryRowContext(ctx, `INSERT INTO rtt (device_id, min_micros, samples, window_start, updated, address) VALUES (?, ?, 1, ?, ?, ?)
		ON CONFLICT (device_id) DO UPDATE SET
			min_micros   = CASE WHEN ? - window_start > ? THEN excluded.min_micros ELSE MIN(min_micros, excluded.min_micros) END,
			samples      = CASE WHEN ? - window_start > ? THEN 1 ELSE samples + 1 END,
			address      = CASE WHEN ? - window_start > ? OR excluded.min_micros < min_micros THEN excluded.address ELSE address END,
			window_start = CASE WHEN ? - window_start > ? THEN excluded.window_start ELSE window_start END,
			updated      = excluded.updated
		RETURNING min_micros, samples, window_start, updated, address`,
		deviceID, us, ms(at), ms(at), addr,
		ms(at), window.Milliseconds(), ms(at), window.Milliseconds(), ms(at), window.Milliseconds(), ms(at), window.Milliseconds())
	out, err := scanRTT(row)
	if isConstraint(err) {
		return out, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	return out, err
}

func scanRTT(sc interface{ Scan(...any) error }) (RTT, error) {
	var r RTT
	var us, start, updated int64
	if err := sc.Scan(&us, &r.Samples, &start, &updated, &r.Address); err != nil {
		return r, err
	}
	r.Min, r.WindowStart, r.Updated = time.Duration(us)*time.Microsecond, fromMS(start), fromMS(updated)
	return r, nil
}

func (s *SQLite) RTT(ctx context.Context, deviceID string) (RTT, error) {
	r, err := scanRTT(s.queryRow(ctx, `SELECT min_micros, samples, window_start, updated, address FROM rtt WHERE device_id = ?`, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return RTT{}, nil
	}
	return r, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
