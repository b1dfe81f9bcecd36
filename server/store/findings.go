package store

import (
	"encoding/json"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// findingRow is a stored finding as the ingest compares it with a report's.
type findingRow struct {
	first                          int64
	signal, title, attack, det, ev string
	sev                            int32
	conf                           float64
	source                         string
}

// incomingFinding is a report's finding in the form both backends store it.
type incomingFinding struct {
	key  string
	row  findingRow // source "agent"
	last int64
}

// newIncoming keys a report's finding, encodes its evidence and fills first and last seen
// with the time the report was received where the agent left them out.
func newIncoming(f *pb.Finding, received time.Time) (incomingFinding, error) {
	ev, err := json.Marshal(f.GetEvidence())
	if err != nil {
		return incomingFinding{}, err
	}
	first, last := ms(received), ms(received)
	if f.GetFirstSeen() != nil {
		first = ms(f.GetFirstSeen().AsTime())
	}
	if f.GetLastSeen() != nil {
		last = ms(f.GetLastSeen().AsTime())
	}
	return incomingFinding{key: FindingKey(f), last: last, row: findingRow{first: first, signal: f.GetSignal(), title: f.GetTitle(),
		attack: f.GetAttack(), det: f.GetDetector(), ev: string(ev), sev: int32(f.GetSeverity()), conf: f.GetConfidence(), source: "agent"}}, nil
}

// unchanged says whether the agent's current finding r already holds what in would write,
// so that only its sequence and last seen need touching.
func (in incomingFinding) unchanged(r findingRow) bool {
	n := in.row
	return r.first <= n.first && r.signal == n.signal && r.sev == n.sev && r.conf == n.conf &&
		r.title == n.title && r.attack == n.attack && r.det == n.det && r.ev == n.ev
}

// upsertArgs are the arguments of both backends' finding upsert, after device id, key and
// sequence.
func (in incomingFinding) upsertArgs() []any {
	r := in.row
	return []any{r.signal, r.sev, r.conf, r.title, r.attack, r.det, r.ev, r.first, in.last}
}
