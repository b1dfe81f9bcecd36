package store

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
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
	// follows: last is the report's own creation time, as an agent stamps the findings of
	// its scan. SQLite then keeps no last_seen of its own for the finding: it is the device's
	// newest report's (devices.report_created), so a report that repeats the findings of the
	// one before writes none of them.
	follows bool
}

// findingSet is a report's findings as the ingest stores them, with what SQLite needs to
// tell, from the device's row alone, that they repeat what is stored.
type findingSet struct {
	list []incomingFinding
	// digest covers everything the ingest would write of each finding (key, content,
	// follows, and last seen where it does not follow) except first_seen, in key order.
	digest []byte
	// firstMin is the earliest first_seen of the set (MaxInt64 when empty). Stored
	// first_seen only ever moves earlier, so the set repeats the stored findings only if it
	// asks for none earlier than the latest stored (devices.findings_first_max).
	firstMin int64
}

// newFindingSet keys and encodes rep's findings (see newIncoming) and digests them.
func newFindingSet(rep *pb.Report, received time.Time) (*findingSet, error) {
	created := ms(rep.GetCreated().AsTime())
	set := &findingSet{list: make([]incomingFinding, 0, len(rep.GetFindings())), firstMin: math.MaxInt64}
	for _, f := range rep.GetFindings() {
		in, err := newIncoming(f, received)
		if err != nil {
			return nil, err
		}
		in.follows = rep.GetCreated() != nil && in.last == created
		set.firstMin = min(set.firstMin, in.row.first)
		set.list = append(set.list, in)
	}
	// Key order, stable: of findings repeating a key, the last one is stored, and the digest
	// must tell their orders apart.
	order := make([]int, len(set.list))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(set.list[a].key, set.list[b].key) })
	h := sha256.New()
	var buf []byte
	for _, i := range order {
		in := &set.list[i]
		r := in.row
		buf = buf[:0]
		for _, str := range []string{in.key, r.signal, r.title, r.attack, r.det, r.ev} {
			buf = binary.AppendUvarint(buf, uint64(len(str)))
			buf = append(buf, str...)
		}
		buf = binary.AppendVarint(buf, int64(r.sev))
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(r.conf))
		if in.follows {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
			buf = binary.AppendVarint(buf, in.last)
		}
		h.Write(buf)
	}
	set.digest = h.Sum(nil)
	return set, nil
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
