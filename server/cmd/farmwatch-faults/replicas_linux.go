package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/farmwatch/farmwatch/server/store"
)

// pgCluster is a throwaway PostgreSQL cluster on loopback, run as the postgres user.
type pgCluster struct {
	dsn, dir string
	p        *proc
}

func (c *pgCluster) stop() {
	c.p.stop(15 * time.Second)
	os.RemoveAll(c.dir)
}

// startPG initialises and starts a cluster in dir. It returns errSkip (with r.skipped set)
// when PostgreSQL is not installed or this is not root.
func startPG(ctx context.Context, dir string, r *result) (*pgCluster, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		r.skipped = "PostgreSQL is not installed (apt-get install postgresql)"
		return nil, errSkip
	}
	sort.Strings(bins)
	binDir := filepath.Dir(bins[len(bins)-1])
	if os.Geteuid() != 0 {
		r.skipped = "not root: cannot run PostgreSQL as its own user"
		return nil, errSkip
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		r.skipped = "no postgres user"
		return nil, errSkip
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	// The harness's work directory is root's (0700): the cluster lives in its own, the
	// postgres user's, removed with the cluster.
	pgDir, err := os.MkdirTemp("", "farmwatch-faults-pg-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(pgDir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	for _, p := range []string{pgDir, data} {
		if err := os.Chown(p, uid, gid); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(dir, "postgres.log")
	initdb, err := startProcAs("initdb", logPath, cred, filepath.Join(binDir, "initdb"), "-D", data, "-A", "trust", "-E", "UTF8", "--locale=C", "-U", "postgres")
	if err != nil {
		return nil, err
	}
	select {
	case <-initdb.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if initdb.err != nil {
		return nil, fmt.Errorf("initdb: %v (see %s)", initdb.err, logPath)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := startProcAs("postgres", logPath, cred, filepath.Join(binDir, "postgres"), "-D", data, "-p", port, "-k", pgDir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300")
	if err != nil {
		return nil, err
	}
	c := &pgCluster{p: p, dir: pgDir, dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%s/farmwatch?sslmode=disable", port)}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", port)
	err = waitFor(ctx, 30*time.Second, 50*time.Millisecond, "PostgreSQL to accept connections", func() (bool, error) {
		if !p.alive() {
			return false, fmt.Errorf("postgres exited: %v (see %s)", p.err, logPath)
		}
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return false, nil
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE DATABASE farmwatch")
		return err == nil, err
	})
	if err != nil {
		p.kill9()
		return nil, err
	}
	return c, nil
}

// replicas is scenario 5: two collector processes share one PostgreSQL; every upload goes to
// either at random while one or the other is killed with SIGKILL and restarted. A retry that
// lands on the other replica must be answered as a duplicate, never stored twice; nothing
// acknowledged may be lost.
func replicas(ctx context.Context, o *options, r *result) error {
	dir := filepath.Join(o.tmp, "replicas")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pg, err := startPG(ctx, dir, r)
	if err != nil {
		return err
	}
	defer pg.stop()
	var cols [2]*collector
	for i := range cols {
		rdir := filepath.Join(dir, fmt.Sprintf("replica-%c", 'a'+i))
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			return err
		}
		if cols[i], err = newCollector(o, rdir); err != nil {
			return err
		}
		cols[i].extra = []string{"--postgres", pg.dsn}
	}
	r.logs = []string{cols[0].log, cols[1].log}
	if err := cols[0].start(ctx); err != nil {
		return err
	}
	defer cols[0].stop()
	// Replicas share the collector CA.
	if err := os.MkdirAll(cols[1].data, 0o700); err != nil {
		return err
	}
	for _, name := range []string{"ca.pem", "ca-key.pem"} {
		b, err := os.ReadFile(filepath.Join(cols[0].data, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(cols[1].data, name), b, 0o600); err != nil {
			return err
		}
	}
	if err := cols[1].start(ctx); err != nil {
		return err
	}
	defer cols[1].stop()
	secret, err := cols[0].secret(ctx, "faults-replicas")
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(cols[0].caPath())
	if err != nil {
		return err
	}
	base, err := baseReport(ctx)
	if err != nil {
		return err
	}
	fl, err := enrollSims(ctx, dir, "faults-rep", 1000, o.devices, func(i int) string { return cols[i%2].addr },
		[]string{cols[0].addr, cols[1].addr}, caPEM, secret)
	if err != nil {
		return err
	}
	defer fl.close()
	fl.upload(ctx, o, base, 7)
	kills := max(4, o.collectorKills/2)
	for i := 0; i < kills && ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(300+o.rng.IntN(1201)) * time.Millisecond):
		}
		c := cols[o.rng.IntN(2)]
		if err := c.kill9(); err != nil {
			fl.stop()
			return err
		}
		r.kills++
		if err := c.start(ctx); err != nil {
			fl.stop()
			return fmt.Errorf("restart %d: %w", i+1, err)
		}
	}
	fl.stop()
	for _, c := range cols {
		if err := c.stop(); err != nil {
			return err
		}
	}
	st, err := store.OpenPostgres(ctx, pg.dsn, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	dups, gaps := 0, 0
	devs := fl.devs
	for _, d := range devs {
		if d.err != nil {
			r.fail("device %s: %v", d.host.Hostname, d.err)
		}
		r.sent += int(d.sent)
		r.acked += len(d.acked)
		dups += d.dups
		// (device, sequence) is the reports table's key: a sequence cannot be stored twice. The
		// device's report counter counts rows inserted; with no gaps and counter = highest,
		// exactly 1..highest are stored, once each.
		dev, err := st.Device(ctx, d.id)
		if err != nil {
			return err
		}
		r.stored += dev.Reports
		if uint64(dev.Reports) != dev.HighestSequence {
			r.dupped += max(0, dev.Reports-int(dev.HighestSequence))
		}
		for _, s := range d.acked {
			if s > dev.HighestSequence {
				r.lost++
			}
		}
		g, err := st.SequenceGaps(ctx, d.id)
		if err != nil {
			return err
		}
		gaps += len(g)
		if len(d.acked) == 0 {
			r.fail("device %s: nothing acknowledged (no progress)", d.host.Hostname)
		}
	}
	if r.lost > 0 {
		r.fail("%d acknowledged reports not stored", r.lost)
	}
	if r.dupped > 0 {
		r.fail("%d sequences stored more than once", r.dupped)
	}
	if gaps > 0 {
		r.fail("%d sequence gaps in the store", gaps)
	}
	r.note("two collectors on one PostgreSQL, uploads to either at random; %d retries deduplicated (some across replicas); %d devices; replica starts %d+%d; retried errors: %s",
		dups, len(devs), cols[0].starts, cols[1].starts, fl.codesString())
	return nil
}
