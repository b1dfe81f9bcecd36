package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// pgBinDir finds the PostgreSQL server programs: in PATH, else Debian's
// /usr/lib/postgresql/<version>/bin (the newest).
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi > vj
	})
	for _, p := range dirs {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", errors.New("PostgreSQL server programs (initdb, postgres) not found: install them (apt-get install postgresql), " +
		"or point FARMWATCH_TEST_POSTGRES_DSN at a server, or set FARMWATCH_SKIP_POSTGRES=1 to skip the PostgreSQL runs")
}

// pgStartCluster initdbs a cluster in a temporary directory and starts its server. As root
// it runs both as the postgres user (the server refuses to run as root).
func pgStartCluster() error {
	bin, err := pgBinDir()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "farmwatch-pg-")
	if err != nil {
		return err
	}
	pgCluster.dir = dir
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT} // immediate shutdown if the test binary dies
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, the test cluster needs the postgres user (apt-get install postgresql creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
	initdb.Dir, initdb.SysProcAttr = dir, attr
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = pgStartServer(bin, dir, data, port, attr); lastErr == nil {
			pgCluster.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return nil
		}
	}
	return lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func pgStartServer(bin, dir, data string, port int, attr *syscall.SysProcAttr) error {
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir, "-c", "max_connections=200")
	cmd.Dir, cmd.SysProcAttr, cmd.Stdout, cmd.Stderr = dir, attr, logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited: %v\n%s", err, out)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = c.Ping(ctx)
			c.Close(ctx)
		}
		cancel()
		if err == nil {
			pgCluster.cmd = cmd
			go func() { pgExited <- <-exited }()
			return nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres not ready after 60s: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var pgExited = make(chan error, 1)

// pgStopCluster stops the server this binary started (fast shutdown) and removes its files.
func pgStopCluster() {
	if pgCluster.admin != nil {
		pgCluster.admin.Close()
	}
	if pgCluster.cmd != nil {
		pgCluster.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-pgExited:
		case <-time.After(30 * time.Second):
			pgCluster.cmd.Process.Kill()
			<-pgExited
		}
	}
	if pgCluster.dir != "" {
		os.RemoveAll(pgCluster.dir)
	}
}
