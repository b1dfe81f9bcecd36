package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The store tests run against every backend: SQLite in a temporary file, and PostgreSQL in a
// database of its own on a throwaway cluster this test binary starts once (initdb into a
// temporary directory, the server on 127.0.0.1 and a free port, default durability settings)
// and stops at the end. FARMWATCH_TEST_POSTGRES_DSN uses an existing server instead (a role
// that may CREATE DATABASE); FARMWATCH_SKIP_POSTGRES=1 skips the PostgreSQL runs.

func TestMain(m *testing.M) {
	code := m.Run()
	pgStopCluster()
	os.Exit(code)
}

// forEachBackend runs f as one subtest per backend. open returns a new Store on the
// subtest's database each time it is called (the first call creates the database); the
// stores are closed when the subtest ends.
func forEachBackend(t *testing.T, f func(t *testing.T, open func() Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "farmwatch.db")
		f(t, func() Store {
			t.Helper()
			s, err := OpenSQLite(context.Background(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgTestDatabase(t)
		f(t, func() Store {
			t.Helper()
			return openPGTest(t, dsn)
		})
	})
}

// forEachStore runs f with a fresh store of each backend.
func forEachStore(t *testing.T, f func(t *testing.T, s Store)) {
	t.Helper()
	forEachBackend(t, func(t *testing.T, open func() Store) { f(t, open()) })
}

func openPGTest(tb testing.TB, dsn string) *Postgres {
	tb.Helper()
	s, err := OpenPostgres(context.Background(), dsn, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

var pgCluster struct {
	once    sync.Once
	err     error
	admin   *pgxpool.Pool // on the maintenance database
	dsn     string        // of the maintenance database
	managed bool          // started here (databases are not dropped: the cluster goes)
	cmd     *exec.Cmd
	dir     string
	n       atomic.Int64
}

// pgTestDatabase creates an empty database for one test (or benchmark) and returns its DSN.
func pgTestDatabase(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("FARMWATCH_SKIP_POSTGRES") == "1" {
		tb.Skip("FARMWATCH_SKIP_POSTGRES=1")
	}
	pgCluster.once.Do(func() {
		pgCluster.dsn = os.Getenv("FARMWATCH_TEST_POSTGRES_DSN")
		if pgCluster.dsn == "" {
			pgCluster.managed = true
			pgCluster.err = pgStartCluster()
			if pgCluster.err != nil {
				return
			}
		}
		pgCluster.admin, pgCluster.err = pgxpool.New(context.Background(), pgCluster.dsn)
	})
	if pgCluster.err != nil {
		tb.Fatalf("PostgreSQL for the store tests: %v", pgCluster.err)
	}
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), pgCluster.n.Add(1))
	ctx := context.Background()
	if _, err := pgCluster.admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	if !pgCluster.managed {
		tb.Cleanup(func() {
			if _, err := pgCluster.admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
				tb.Logf("drop test database %s: %v", name, err)
			}
		})
	}
	dsn, err := pgWithDatabase(pgCluster.dsn, name)
	if err != nil {
		tb.Fatal(err)
	}
	return dsn
}

// pgWithDatabase returns dsn (URL or key=value form) naming database db instead.
func pgWithDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("FARMWATCH_TEST_POSTGRES_DSN: %w", err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	return dsn + " dbname=" + db, nil // a later key wins
}
