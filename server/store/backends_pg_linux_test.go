//go:build linux

package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

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
