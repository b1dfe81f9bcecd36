package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"time"
)

// Durability classes. Reports, enrollments, certificates, accounts, policy and audit commit
// with synchronous=FULL: on disk before the call returns. What the collector derives from
// them and can derive again (egress and round-trip records, location findings, scores,
// last-seen times, agent health) commits with synchronous=NORMAL: in WAL mode that survives a
// crash of the process but may lose the last commits on power loss, and costs no fsync. The
// one writer connection is reserved for the pragma and the transaction together, so a
// relaxed commit can never leak into a durable one.

// writerTx is a transaction on the reserved writer connection, with the synchronous setting
// of its durability class; ending it puts the connection back at synchronous=FULL.
type writerTx struct {
	*sql.Tx
	conn *sql.Conn
	done bool
}

// beginWriter reserves the writer connection, sets synchronous (FULL for reports, NORMAL for
// derived writes; set explicitly either way, never assumed) and begins a transaction.
func (s *SQLite) beginWriter(ctx context.Context, synchronous string) (*writerTx, error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous="+synchronous); err != nil {
		release(conn)
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		release(conn)
		return nil, err
	}
	return &writerTx{Tx: tx, conn: conn}, nil
}

func (s *SQLite) beginDurable(ctx context.Context) (*writerTx, error) {
	return s.beginWriter(ctx, "FULL")
}
func (s *SQLite) beginRelaxed(ctx context.Context) (*writerTx, error) {
	return s.beginWriter(ctx, "NORMAL")
}

// release puts the writer connection back at synchronous=FULL. Should that fail, the
// connection is discarded rather than reused.
func release(conn *sql.Conn) {
	if _, err := conn.ExecContext(context.Background(), "PRAGMA synchronous=FULL"); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discards it
	}
	conn.Close()
}

func (t *writerTx) Commit() error {
	err := t.Tx.Commit()
	t.finish()
	return err
}

func (t *writerTx) Rollback() error {
	err := t.Tx.Rollback()
	t.finish()
	return err
}

func (t *writerTx) finish() {
	if !t.done {
		t.done = true
		release(t.conn)
	}
}

// relaxedJob is one derived write waiting for the next relaxed batch.
type relaxedJob struct {
	fn   func(ctx context.Context, tx txConn) error
	done chan error
}

// MaxRelaxedBatch bounds the derived writes committed together.
const MaxRelaxedBatch = 512

// relaxed runs fn among the derived writes of the next relaxed batch: one transaction (at
// synchronous=NORMAL) for up to MaxRelaxedBatch writes that queued meanwhile, each in its own
// savepoint so that one failing write is undone alone. It returns fn's error, or the batch's.
// Heartbeats of a large fleet (last seen), egress and round-trip records, location findings
// and scores cost one commit per batch rather than one each.
func (s *SQLite) relaxed(ctx context.Context, fn func(ctx context.Context, tx txConn) error) error {
	j := &relaxedJob{fn: fn, done: make(chan error, 1)}
	select {
	case <-s.closing:
		return errStoreClosed
	default:
	}
	select {
	case s.relaxedJobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errStoreClosed
	}
	select {
	case err := <-j.done:
		return err
	case <-s.relaxedDone:
		// Closed: the job ran (its answer is waiting) or it never will.
		select {
		case err := <-j.done:
			return err
		default:
			return errStoreClosed
		}
	}
}

var errStoreClosed = errors.New("store closed")

func (s *SQLite) runRelaxed() {
	defer close(s.relaxedDone)
	batch := make([]*relaxedJob, 0, MaxRelaxedBatch)
	for {
		var first *relaxedJob
		select {
		case first = <-s.relaxedJobs:
		case <-s.closing:
			return
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < MaxRelaxedBatch {
			select {
			case j := <-s.relaxedJobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		s.commitRelaxed(batch)
	}
}

func (s *SQLite) commitRelaxed(batch []*relaxedJob) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fail := func(err error) {
		for _, j := range batch {
			j.done <- err
		}
	}
	tx, err := s.beginRelaxed(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer tx.Rollback()
	ct := s.newCachedTx(tx)
	defer ct.close()
	errs := make([]error, len(batch))
	for i, j := range batch {
		if _, err := ct.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			fail(err)
			return
		}
		if errs[i] = j.fn(ctx, ct); errs[i] != nil {
			if _, err := ct.ExecContext(ctx, "ROLLBACK TO job"); err != nil {
				fail(err)
				return
			}
		}
		if _, err := ct.ExecContext(ctx, "RELEASE job"); err != nil {
			fail(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	for i, j := range batch {
		j.done <- errs[i]
	}
	s.wc.learn(ctx, ct.fresh)
}
