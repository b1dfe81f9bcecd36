package collector_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/farmwatch/farmwatch/agent/enroll"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/server/collector"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Secrets at rest are owner-only, and no secret reaches a log, even at debug level: enroll
// secrets (accepted and refused), private keys, certificates' keys.
func TestSecretsPrivateAndNeverLogged(t *testing.T) {
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	c := startCollector(t, dir, "127.0.0.1:0", func(o *collector.Options) { o.Logger = log })
	secret := c.secret("default")
	a := enrollAgent(t, c, secret)
	a.r.Log = log
	ctx := ctxT(t)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// A refused enrollment with a wrong secret logs the refusal, not the secret.
	wrong := "fwe_wrong_" + strings.Repeat("x", 20)
	sdir, err := state.Open(filepath.Join(t.TempDir(), "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.Enroll(ctx, sdir, enroll.Request{Server: c.addr, CAPEM: c.caPEM(), Secret: wrong, AgentVersion: "test"}); err == nil {
		t.Fatal("enrolled with a wrong secret")
	}
	keyPEM, err := os.ReadFile(a.dir.File("key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "enrollment refused") {
		t.Fatalf("refusal not logged:\n%s", out)
	}
	for name, s := range map[string]string{"enroll secret": secret, "wrong secret": wrong,
		"agent key": pemBody(keyPEM), "CA key": pemBody(caKey)} {
		if strings.Contains(out, s) {
			t.Errorf("%s appears in the logs", name)
		}
	}
	// Owner-only files: the agent's whole state, the collector's key and database.
	check := func(root string, names ...string) {
		t.Helper()
		for _, n := range names {
			st, err := os.Stat(filepath.Join(root, n))
			if err != nil {
				t.Errorf("%s: %v", n, err)
				continue
			}
			if st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s is %v: readable by others", n, st.Mode().Perm())
			}
		}
	}
	check(dir, "ca-key.pem", "farmwatch.db")
	err = filepath.WalkDir(a.dir.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a.dir.Path, p)
		check(a.dir.Path, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pemBody is the base64 of a PEM block's first line of data: enough to spot a leak.
func pemBody(b []byte) string {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return string(b)
	}
	return lines[1]
}
