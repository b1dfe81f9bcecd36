package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps statements prepared once for a database handle: database/sql prepares each
// on a connection the first time it runs there and reuses it after, so the hot paths (a
// device's certificate on every call, the ingest statements of every batch) stop parsing SQL.
type stmtCache struct {
	db *sql.DB
	m  sync.Map // query → *sql.Stmt
}

// cached returns the statement of q if it was prepared before, else nil.
func (c *stmtCache) cached(q string) *sql.Stmt {
	if st, ok := c.m.Load(q); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// prepared returns the statement of q, preparing it on first use. Preparing takes a free
// connection: on the writer, call it only outside a transaction.
func (c *stmtCache) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := c.cached(q); st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// learn prepares the queries a finished writer transaction had to prepare for itself, so that
// the next ones find them cached. Errors only mean they stay uncached.
func (c *stmtCache) learn(ctx context.Context, qs []string) {
	for _, q := range qs {
		_, _ = c.prepared(ctx, q)
	}
}

func (c *stmtCache) close() {
	c.m.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
}

// queryRow runs a read through the reader statement cache.
func (s *SQLite) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.rc.prepared(ctx, q)
	if err != nil {
		return s.r.QueryRowContext(ctx, q, args...) // carries the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a read through the reader statement cache.
func (s *SQLite) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.rc.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
