package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// Durability classes. Reports, enrollments, certificates, accounts, policy and audit commit
// with synchronous=FULL: on disk before the call returns. What the collector derives from
// them and can derive again (egress and round-trip records, location findings, scores,
// last-seen times, agent health) commits with synchronous=NORMAL: in WAL mode that survives a
// crash of the process but may lose the last commits on power loss, and costs no fsync. The
// one writer connection is reserved for the pragma and the transaction together, so a
// relaxed commit can never leak into a durable one.

// relaxedTx is a transaction with synchronous=NORMAL on the reserved writer connection.
type relaxedTx struct {
	*sql.Tx
	conn *sql.Conn
	done bool
}

func (s *SQLite) beginRelaxed(ctx context.Context) (*relaxedTx, error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=NORMAL"); err != nil {
		conn.Close()
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		release(conn)
		return nil, err
	}
	return &relaxedTx{Tx: tx, conn: conn}, nil
}

// release puts the writer connection back at synchronous=FULL. Should that fail, the
// connection is discarded rather than reused.
func release(conn *sql.Conn) {
	if _, err := conn.ExecContext(context.Background(), "PRAGMA synchronous=FULL"); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discards it
	}
	conn.Close()
}

func (t *relaxedTx) Commit() error {
	err := t.Tx.Commit()
	t.finish()
	return err
}

func (t *relaxedTx) Rollback() error {
	err := t.Tx.Rollback()
	t.finish()
	return err
}

func (t *relaxedTx) finish() {
	if !t.done {
		t.done = true
		release(t.conn)
	}
}

// beginDurable begins a transaction on the reserved writer connection with synchronous=FULL
// set explicitly: the ingest path does not rely on anything else having reset it.
func (s *SQLite) beginDurable(ctx context.Context) (*relaxedTx, error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=FULL"); err != nil {
		conn.Close()
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &relaxedTx{Tx: tx, conn: conn}, nil
}

// relaxed runs fn in a relaxed transaction and commits it when fn succeeds.
func (s *SQLite) relaxed(ctx context.Context, fn func(tx *relaxedTx) error) error {
	tx, err := s.beginRelaxed(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
