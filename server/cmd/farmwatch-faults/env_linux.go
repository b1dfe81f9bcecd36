package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", as the store uses

	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/state"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/store"
)

const dbFile = "farmwatch.db" // the collector's database in its data directory

// collector is the real collector binary on a fixed loopback port and data directory.
type collector struct {
	bin, data, addr, log string
	extra                []string // more serve and CLI flags (--postgres DSN)
	p                    *proc
	starts               int
}

func newCollector(o *options, dir string) (*collector, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return &collector{bin: o.serverBin, data: filepath.Join(dir, "server"), addr: addr, log: filepath.Join(dir, "collector.log")}, nil
}

func (c *collector) caPath() string { return filepath.Join(c.data, pki.CACertFile) }
func (c *collector) dbPath() string { return filepath.Join(c.data, dbFile) }

// start starts the collector and waits until its gRPC port accepts connections.
func (c *collector) start(ctx context.Context) error {
	p, err := startProc("collector", c.log, c.bin, append([]string{"serve", "--data", c.data, "--grpc-listen", c.addr, "--http-listen", "127.0.0.1:0"}, c.extra...)...)
	if err != nil {
		return err
	}
	c.p = p
	c.starts++
	return waitFor(ctx, 20*time.Second, 10*time.Millisecond, "the collector to accept on "+c.addr, func() (bool, error) {
		if !p.alive() {
			return false, fmt.Errorf("collector exited: %v", p.err)
		}
		if _, err := os.Stat(c.caPath()); err != nil {
			return false, nil
		}
		conn, err := net.DialTimeout("tcp", c.addr, 200*time.Millisecond)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	})
}

func (c *collector) kill9() error {
	if c.p == nil {
		return nil
	}
	return c.p.kill9()
}

// stop shuts the collector down gracefully.
func (c *collector) stop() error {
	if c.p == nil {
		return nil
	}
	return c.p.stop(15 * time.Second)
}

// secret creates an enroll secret with the collector's CLI (its last output line).
func (c *collector) secret(ctx context.Context, name string) (string, error) {
	out, err := runCmd(ctx, 30*time.Second, c.bin, append([]string{"enroll-secret", "create", "--data", c.data, "--name", name}, c.extra...)...)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// enrollAgent enrolls a state directory with the real agent binary and returns the device id.
func enrollAgent(ctx context.Context, o *options, c *collector, stateDir string) (string, error) {
	secret, err := c.secret(ctx, "faults-"+filepath.Base(filepath.Dir(stateDir)))
	if err != nil {
		return "", err
	}
	if _, err := runCmd(ctx, 60*time.Second, o.agentBin, "enroll", "--state", stateDir, "--server", c.addr, "--ca", c.caPath(), "--secret", secret); err != nil {
		return "", err
	}
	rec, err := state.Dir{Path: stateDir}.Record()
	if err != nil {
		return "", err
	}
	return rec.DeviceID, nil
}

// startChild starts this program as an agent child on stateDir.
func startChild(o *options, logPath, stateDir string, extra ...string) (*proc, error) {
	args := append([]string{"agent-child", "-state", stateDir}, extra...)
	return startProc("agent", logPath, o.ownExe, args...)
}

// flushChild runs the agent child in flush-only mode until its spool is empty.
func flushChild(ctx context.Context, o *options, logPath, stateDir string, extra ...string) error {
	p, err := startChild(o, logPath, stateDir, append([]string{"-flush-only", "-timeout", "60s"}, extra...)...)
	if err != nil {
		return err
	}
	if err := p.wait(ctx, 70*time.Second); err != nil {
		return fmt.Errorf("flush-only agent: %w", err)
	}
	return nil
}

// spoolView is what an agent's spool holds once no agent process runs.
type spoolView struct {
	stats    spool.Stats
	pending  []uint64
	rejected []uint64
	setAside []string // spool files OpenOrSetAside moved away as corrupt
}

func readSpool(stateDir string) (spoolView, error) {
	var v spoolView
	path := filepath.Join(stateDir, state.SpoolFile)
	v.setAside, _ = filepath.Glob(path + ".corrupt-*")
	sp, err := spool.Open(path, spool.Options{})
	if err != nil {
		return v, fmt.Errorf("spool does not open cleanly: %w", err)
	}
	if v.stats, err = sp.Stats(); err != nil {
		sp.Close()
		return v, err
	}
	es, err := sp.Pending(0)
	if err != nil {
		sp.Close()
		return v, err
	}
	for _, e := range es {
		v.pending = append(v.pending, e.Sequence)
	}
	if err := sp.Close(); err != nil {
		return v, err
	}
	if v.stats.Rejected == 0 {
		return v, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return v, err
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("rejected"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			if len(k) == 8 {
				var s uint64
				for _, c := range k {
					s = s<<8 | uint64(c)
				}
				v.rejected = append(v.rejected, s)
			}
			return nil
		})
	})
	return v, err
}

// storedView is what the collector's store holds for one device.
type storedView struct {
	count    map[uint64]int // rows per sequence
	rows     int
	mismatch int // rows whose body carries another sequence
	highest  uint64
	gaps     []store.Gap
	findings []store.Finding
}

// readStore opens the (stopped) collector's store and reads what it holds for each device.
func readStore(ctx context.Context, dbPath string, devices []string) (map[string]*storedView, error) {
	st, err := store.OpenSQLite(ctx, dbPath, nil)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out := map[string]*storedView{}
	for _, id := range devices {
		v := &storedView{count: map[uint64]int{}}
		d, err := st.Device(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", id, err)
		}
		v.highest = d.HighestSequence
		if v.gaps, err = st.SequenceGaps(ctx, id); err != nil {
			return nil, err
		}
		if v.findings, err = st.Findings(ctx, id); err != nil {
			return nil, err
		}
		rows, err := db.QueryContext(ctx, `SELECT sequence, body FROM reports WHERE device_id = ?`, id)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var seq int64
			var body []byte
			if err := rows.Scan(&seq, &body); err != nil {
				rows.Close()
				return nil, err
			}
			v.rows++
			v.count[uint64(seq)]++
			rep := &pb.Report{}
			plain, err := store.UnpackBody(body) // stored compressed (store.PackBody)
			if err != nil || proto.Unmarshal(plain, rep) != nil || rep.GetSequence() != uint64(seq) {
				v.mismatch++
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, nil
}

// poller counts a device's stored reports while the collector runs (read-only connection).
type poller struct{ db *sql.DB }

func newPoller(dbPath string) (*poller, error) {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	return &poller{db: db}, nil
}

func (p *poller) stored(ctx context.Context, device string) (int, error) {
	var n int
	err := p.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM reports WHERE device_id = ?`, device).Scan(&n)
	return n, err
}

func (p *poller) close() { p.db.Close() }

// account compares an agent's spool with what the collector stored, for scenarios 1, 3, 4.
type accounting struct {
	assigned    uint64
	stored      int
	missing     []uint64 // assigned, not stored, not spooled, not rejected
	beyond      int      // stored sequences the spool never assigned
	lost        int
	dup         int
	acked       int
	undelivered int // evicted and never delivered
}

func account(sv spoolView, v *storedView) accounting {
	a := accounting{assigned: sv.stats.LastSequence}
	held := map[uint64]bool{}
	for _, s := range sv.pending {
		held[s] = true
	}
	for _, s := range sv.rejected {
		held[s] = true
	}
	for s := uint64(1); s <= a.assigned; s++ {
		if v.count[s] == 0 && !held[s] {
			a.missing = append(a.missing, s)
		}
	}
	for s, n := range v.count {
		a.stored++
		if n > 1 {
			a.dup++
		}
		if s > a.assigned || s == 0 {
			a.beyond++
		}
	}
	a.undelivered = min(len(a.missing), int(sv.stats.Evicted))
	a.lost = len(a.missing) - a.undelivered
	a.acked = int(a.assigned) - len(sv.pending) - len(sv.rejected) - a.undelivered
	return a
}

// check applies the "nothing lost" rules of one agent device to r.
func (a accounting) check(r *result, sv spoolView, v *storedView) {
	r.sent, r.acked, r.stored, r.lost, r.dupped = int(a.assigned), a.acked, a.stored, a.lost, a.dup
	if a.lost > 0 {
		r.fail("%d assigned sequences neither stored, spooled, rejected nor evicted (e.g. %v)", a.lost, head(a.missing, 8))
	}
	if a.dup > 0 {
		r.fail("%d sequences stored more than once", a.dup)
	}
	if a.beyond > 0 {
		r.fail("%d stored sequences the spool never assigned", a.beyond)
	}
	if v.mismatch > 0 {
		r.fail("%d stored reports carry another sequence than their row", v.mismatch)
	}
	if len(sv.setAside) > 0 {
		r.fail("spool was set aside as corrupt: %v", sv.setAside)
	}
	if len(sv.pending) > 0 {
		r.fail("%d reports still spooled after the final flush", len(sv.pending))
	}
	if sv.stats.Evicted == 0 && len(v.gaps) > 0 {
		r.fail("sequence gaps in the store: %v", v.gaps)
	}
	if a.assigned > 0 && v.highest != a.assigned {
		r.fail("collector's highest sequence %d, spool's last %d", v.highest, a.assigned)
	}
	if sv.stats.Rejected > 0 {
		r.note("%d rejected by the collector", sv.stats.Rejected)
	}
}

func head(s []uint64, n int) []uint64 {
	if len(s) > n {
		return s[:n]
	}
	return s
}
