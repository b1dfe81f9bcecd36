package store

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Ingest on PostgreSQL. A batch is one transaction that first locks the rows of its devices
// (in id order, so that replicas ingesting overlapping batches cannot deadlock, and so that
// (device, sequence) idempotency, highest_sequence and the current findings move one
// transaction at a time per device). Then it takes three round trips whatever its size:
// every report's insert and the devices' current findings; the stored bodies of the reports
// that turned out to be duplicates (only when there are some); every write that follows.
// What each report writes is worked out in Go from the state the earlier reports of the
// batch left, exactly as storing them one after the other would.

func (s *Postgres) IngestReport(ctx context.Context, in Ingest) (IngestResult, error) {
	res, errs, err := s.IngestReports(ctx, []Ingest{in})
	if err != nil {
		return IngestResult{}, err
	}
	return res[0], errs[0]
}

func (s *Postgres) IngestReports(ctx context.Context, batch []Ingest) ([]IngestResult, []error, error) {
	if len(batch) == 0 {
		return []IngestResult{}, []error{}, nil
	}
	ids := make([]string, len(batch))
	for i, in := range batch {
		ids[i] = in.DeviceID
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var res []IngestResult
	var errs []error
	err := s.pgTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, errs, err = pgIngestBatch(ctx, tx, ids, batch)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return res, errs, nil
}

// pgDevState is a locked device as the batch leaves it.
type pgDevState struct {
	highest  uint64
	revoked  bool
	findings map[string]*findingRow // every current finding, by key
}

// pgLockDevices locks the rows of the devices ids (sorted, without repeats) in id order and
// returns their state; devices that do not exist are absent. Every writer that locks several
// devices takes them in this order.
func pgLockDevices(ctx context.Context, tx pgx.Tx, ids []string) (map[string]*pgDevState, error) {
	rows, err := tx.Query(ctx, `SELECT id, highest_sequence, revoked_at FROM devices WHERE id = ANY($1) ORDER BY id COLLATE "C" FOR NO KEY UPDATE`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]*pgDevState, len(ids))
	for rows.Next() {
		var id string
		var revoked int64
		st := &pgDevState{findings: map[string]*findingRow{}}
		if err := rows.Scan(&id, &st.highest, &revoked); err != nil {
			return nil, err
		}
		st.revoked = revoked != 0
		out[id] = st
	}
	return out, rows.Err()
}

func pgIngestBatch(ctx context.Context, tx pgx.Tx, ids []string, batch []Ingest) ([]IngestResult, []error, error) {
	res, errs := make([]IngestResult, len(batch)), make([]error, len(batch))
	devs, err := pgLockDevices(ctx, tx, ids)
	if err != nil {
		return nil, nil, err
	}
	// Unknown and revoked devices are answered before anything is written.
	var live []string
	for _, id := range ids {
		if d := devs[id]; d != nil && !d.revoked {
			live = append(live, id)
		}
	}
	for i, in := range batch {
		switch d := devs[in.DeviceID]; {
		case d == nil:
			errs[i] = fmt.Errorf("device %s: %w", in.DeviceID, ErrNotFound)
		case d.revoked:
			errs[i] = fmt.Errorf("device %s: %w", in.DeviceID, ErrRevoked)
		}
	}
	if len(live) == 0 {
		return res, errs, nil
	}

	// Round trip 1: the reports, and the devices' findings.
	inserted := make([]bool, len(batch))
	b := &pgx.Batch{}
	for i, in := range batch {
		if errs[i] != nil {
			continue
		}
		rep := in.Report
		b.Queue(`INSERT INTO reports (device_id, sequence, created, received, address, findings_count, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device_id, sequence) DO NOTHING`,
			in.DeviceID, int64(rep.GetSequence()), ms(rep.GetCreated().AsTime()), ms(in.Received), in.Address, int64(len(rep.GetFindings())), pgBytes(in.stored())).
			Exec(func(ct pgconn.CommandTag) error { inserted[i] = ct.RowsAffected() == 1; return nil })
	}
	b.Queue(`SELECT device_id, key, first_seen, signal, severity, confidence, title, attack, detector, evidence, source FROM findings WHERE device_id = ANY($1)`, live).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id, k string
				var r findingRow
				if err := rows.Scan(&id, &k, &r.first, &r.signal, &r.sev, &r.conf, &r.title, &r.attack, &r.det, &r.ev, &r.source); err != nil {
					return err
				}
				devs[id].findings[k] = &r
			}
			return rows.Err()
		})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("store reports: %w", err)
	}

	// Round trip 2, for duplicates only: what is stored under their sequences.
	type devSeq struct {
		id  string
		seq int64
	}
	stored := map[devSeq][]byte{}
	var dupIDs []string
	var dupSeqs []int64
	for i, in := range batch {
		if errs[i] == nil && !inserted[i] {
			k := devSeq{in.DeviceID, int64(in.Report.GetSequence())}
			if _, ok := stored[k]; !ok {
				stored[k] = nil
				dupIDs, dupSeqs = append(dupIDs, k.id), append(dupSeqs, k.seq)
			}
		}
	}
	if len(dupIDs) > 0 {
		rows, err := tx.Query(ctx, `SELECT r.device_id, r.sequence, r.body FROM reports r JOIN unnest($1::text[], $2::bigint[]) AS d (device_id, sequence)
			ON r.device_id = d.device_id AND r.sequence = d.sequence`, dupIDs, dupSeqs)
		if err != nil {
			return nil, nil, fmt.Errorf("read stored reports: %w", err)
		}
		for rows.Next() {
			var k devSeq
			var body []byte
			if err := rows.Scan(&k.id, &k.seq, &body); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("read stored reports: %w", err)
			}
			stored[k] = body
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("read stored reports: %w", err)
		}
	}

	// Round trip 3: every write, report after report.
	b = &pgx.Batch{}
	for i, in := range batch {
		if errs[i] != nil {
			continue
		}
		dev := devs[in.DeviceID]
		rep := in.Report
		seq := rep.GetSequence()
		r := &res[i]
		if !inserted[i] {
			r.Duplicate = true
			r.HighestSequence = dev.highest
			if r.Conflict = !sameBody(stored[devSeq{in.DeviceID, int64(seq)}], in.Body); r.Conflict {
				b.Queue(`INSERT INTO report_conflicts (device_id, sequence, received, address, body) VALUES ($1, $2, $3, $4, $5)`,
					in.DeviceID, int64(seq), ms(in.Received), in.Address, pgBytes(in.Body))
				// Bounded: a cloned agent must not fill the disk. The newest are kept.
				b.Queue(`DELETE FROM report_conflicts WHERE device_id = $1 AND id NOT IN
					(SELECT id FROM report_conflicts WHERE device_id = $1 ORDER BY id DESC LIMIT $2)`, in.DeviceID, MaxConflictsKept)
			}
			// A replay still proves the device is alive.
			b.Queue(`UPDATE devices SET last_seen = GREATEST(last_seen, $1), last_address = $2 WHERE id = $3`, ms(in.Received), in.Address, in.DeviceID)
			continue
		}
		if seq > dev.highest+1 {
			r.GapBefore = seq - dev.highest - 1
		}
		if seq <= dev.highest {
			// A late report filling an old gap: history only, current state stays with the newest.
			b.Queue(`UPDATE devices SET reports = reports + 1, last_seen = GREATEST(last_seen, $1) WHERE id = $2`, ms(in.Received), in.DeviceID)
			r.HighestSequence = dev.highest
			continue
		}
		fs, err := in.incomingFindings()
		if err != nil {
			return nil, nil, err
		}
		if err := pgQueueFindings(b, dev, in.DeviceID, seq, fs.list); err != nil {
			return nil, nil, err
		}
		host := rep.GetFacts().GetHost()
		b.Queue(`UPDATE devices SET highest_sequence = $1, reports = reports + 1,
			findings_count = $2 + (SELECT COUNT(*) FROM findings WHERE device_id = devices.id AND source <> 'agent'), facts_received = $3,
			last_seen = GREATEST(last_seen, $3), last_address = $4, agent_version = $5,
			hostname = CASE WHEN $6 <> '' THEN $6 ELSE hostname END,
			os_version = CASE WHEN $7 <> '' THEN $7 ELSE os_version END
			WHERE id = $8`,
			int64(seq), int64(len(rep.GetFindings())), ms(in.Received), in.Address, rep.GetAgentVersion(),
			host.GetHostname(), host.GetOsVersion(), in.DeviceID)
		dev.highest = seq
		r.HighestSequence = seq
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, nil, fmt.Errorf("store reports: %w", err)
		}
	}
	return res, errs, nil
}

// pgQueueFindings queues the writes that make the device's current agent findings those of
// report seq, keeping first_seen of findings (by key) that were already current, and brings
// dev.findings to what they leave. Unchanged findings only get the new sequence and last_seen
// (no index changes); new, changed and vanished ones are written.
func pgQueueFindings(b *pgx.Batch, dev *pgDevState, deviceID string, seq uint64, fs []incomingFinding) error {
	// The agent's findings before this report, as SQLite's replaceFindings reads them.
	prev := map[string]findingRow{}
	for k, r := range dev.findings {
		if r.source == "agent" {
			prev[k] = *r
		}
	}
	// A finding the agent sends under a key the collector already uses is the agent's now.
	const upsert = `INSERT INTO findings (device_id, key, sequence, signal, severity, confidence, title, attack, detector, evidence, first_seen, last_seen, source)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'agent') ON CONFLICT (device_id, key) DO UPDATE SET sequence = excluded.sequence,
		signal = excluded.signal, severity = excluded.severity, confidence = excluded.confidence, title = excluded.title, attack = excluded.attack,
		detector = excluded.detector, evidence = excluded.evidence, first_seen = LEAST(findings.first_seen, excluded.first_seen),
		last_seen = excluded.last_seen, source = 'agent'`
	// The unchanged findings are touched in one statement queued before the others (a key
	// touched is written again only by a later upsert, which must come after).
	var touchKeys []string
	var touchLast []int64
	var writes []pgx.QueuedQuery
	seen := make(map[string]bool, len(fs))
	for _, in := range fs {
		key := in.key
		if p, had := prev[key]; had && !seen[key] && in.unchanged(p) {
			touchKeys, touchLast = append(touchKeys, key), append(touchLast, in.last)
		} else {
			writes = append(writes, pgx.QueuedQuery{SQL: upsert, Arguments: append([]any{deviceID, key, int64(seq)}, in.upsertArgs()...)})
			row := in.row
			if old, ok := dev.findings[key]; ok {
				row.first = min(old.first, row.first)
			}
			dev.findings[key] = &row
		}
		seen[key] = true
	}
	if len(touchKeys) > 0 {
		b.Queue(`UPDATE findings f SET sequence = $1, last_seen = t.last FROM unnest($3::text[], $4::bigint[]) AS t (key, last)
			WHERE f.device_id = $2 AND f.key = t.key`, int64(seq), deviceID, touchKeys, touchLast)
	}
	for _, w := range writes {
		b.Queue(w.SQL, w.Arguments...)
	}
	var gone []string
	for k := range prev {
		if !seen[k] {
			gone = append(gone, k)
			delete(dev.findings, k)
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		b.Queue(`DELETE FROM findings WHERE device_id = $1 AND key = ANY($2)`, deviceID, gone)
	}
	return nil
}
