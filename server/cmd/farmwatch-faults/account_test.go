//go:build linux

package main

import (
	"testing"

	"github.com/farmwatch/farmwatch/agent/spool"
)

func TestAccount(t *testing.T) {
	stored := func(seqs ...uint64) *storedView {
		v := &storedView{count: map[uint64]int{}}
		for _, s := range seqs {
			v.count[s]++
			v.highest = max(v.highest, s)
		}
		return v
	}
	for _, c := range []struct {
		name                      string
		sv                        spoolView
		v                         *storedView
		lost, dup, acked, undeliv int
	}{
		{"all stored", spoolView{stats: spool.Stats{LastSequence: 3}}, stored(1, 2, 3), 0, 0, 3, 0},
		{"one spooled", spoolView{stats: spool.Stats{LastSequence: 3}, pending: []uint64{3}}, stored(1, 2), 0, 0, 2, 0},
		{"one lost", spoolView{stats: spool.Stats{LastSequence: 3}}, stored(1, 3), 1, 0, 3, 0},
		{"evicted oldest", spoolView{stats: spool.Stats{LastSequence: 4, Evicted: 2}}, stored(3, 4), 0, 0, 2, 2},
		{"evicted in flight, delivered", spoolView{stats: spool.Stats{LastSequence: 4, Evicted: 3}}, stored(3, 4), 0, 0, 2, 2},
		{"rejected", spoolView{stats: spool.Stats{LastSequence: 2, Rejected: 1}, rejected: []uint64{1}}, stored(2), 0, 0, 1, 0},
		{"stored twice", spoolView{stats: spool.Stats{LastSequence: 2}}, stored(1, 2, 2), 0, 1, 2, 0},
	} {
		a := account(c.sv, c.v)
		if a.lost != c.lost || a.dup != c.dup || a.acked != c.acked || a.undelivered != c.undeliv {
			t.Errorf("%s: lost %d dup %d acked %d undelivered %d, want %d %d %d %d", c.name, a.lost, a.dup, a.acked, a.undelivered, c.lost, c.dup, c.acked, c.undeliv)
		}
		r := &result{}
		a.check(r, c.sv, c.v)
		if fail := c.lost > 0 || c.dup > 0 || len(c.sv.pending) > 0; fail != (len(r.failures) > 0) {
			t.Errorf("%s: failures %v", c.name, r.failures)
		}
	}
}
