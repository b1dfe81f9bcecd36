package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// controller is the tests' policy holder: it keeps the policy in a field and records who set it.
type controller struct {
	mu     sync.Mutex
	p      *policy.Policy
	actors []string
}

func (c *controller) Policy() *policy.Policy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p
}

func (c *controller) SetPolicy(_ context.Context, p *policy.Policy, actor string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p = p
	c.actors = append(c.actors, actor)
	return nil
}

func (c *controller) calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.actors...)
}

// env is an API over a real SQLite store behind a real HTTP server, with one token per role.
type env struct {
	t      *testing.T
	store  *store.SQLite
	policy *controller
	srv    *httptest.Server
	tokens map[string]string // role (or "revoked") -> token value
	now    time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &env{t: t, store: s, policy: &controller{p: policy.Default()}, tokens: map[string]string{}, now: t0.Add(48 * time.Hour)}
	a, err := New(Options{Store: s, Policy: e.policy, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, a.Handler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	for i, role := range []string{store.RoleViewer, store.RoleAnalyst, store.RoleAdmin, "revoked"} {
		v, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		r := role
		if role == "revoked" {
			r = store.RoleAdmin
		}
		if err := s.CreateAPIToken(ctx, store.APIToken{ID: fmt.Sprintf("tok_%d", i), Name: role, Hash: HashToken(v), Role: r, CreatedAt: t0, CreatedBy: "test"}); err != nil {
			t.Fatal(err)
		}
		e.tokens[role] = v
	}
	if err := s.RevokeAPIToken(ctx, "revoked", t0); err != nil {
		t.Fatal(err)
	}
	return e
}

// deviceID makes the n-th test device id (32 lower-case hex digits).
func deviceID(n int) string { return fmt.Sprintf("%032x", 0xfa0000+n) }

type devSpec struct {
	n        int
	hostname string
	os       string
	group    string
	score    float64
	band     string
	findings []*pb.Finding
	seen     time.Time // zero: t0
}

// addDevice enrolls a device, ingests its findings and records its score.
func (e *env) addDevice(d devSpec) string {
	e.t.Helper()
	ctx := context.Background()
	id := deviceID(d.n)
	if d.os == "" {
		d.os = "linux"
	}
	at := t0.Add(time.Duration(d.n) * time.Minute)
	if err := e.store.Enroll(ctx, store.Enrollment{
		Device:      store.Device{ID: id, Hostname: d.hostname, OS: d.os, OSVersion: "12", EnrolledAt: at, SerialNumber: "SN" + id[26:]},
		Certificate: store.Certificate{Serial: fmt.Sprint(1000 + d.n), DeviceID: id, NotBefore: at, NotAfter: at.Add(24 * time.Hour), IssuedAt: at},
	}); err != nil {
		e.t.Fatal(err)
	}
	if len(d.findings) > 0 {
		rep := &pb.Report{Sequence: 1, Created: timestamppb.New(at), Findings: d.findings}
		body, _ := proto.Marshal(rep)
		if _, err := e.store.IngestReport(ctx, store.Ingest{DeviceID: id, Report: rep, Body: body, Received: at, Address: "198.51.100.7"}); err != nil {
			e.t.Fatal(err)
		}
	}
	if !d.seen.IsZero() {
		if err := e.store.TouchMany(ctx, []store.Seen{{DeviceID: id, At: d.seen, Address: "203.0.113.9"}}); err != nil {
			e.t.Fatal(err)
		}
	}
	if d.band != "" {
		bd := fmt.Sprintf(`{"Score":%v,"Band":%q}`, d.score, d.band)
		if err := e.store.SetScore(ctx, id, store.Score{Value: d.score, Band: d.band, Breakdown: []byte(bd), PolicyVersion: "sha256:test", At: at}); err != nil {
			e.t.Fatal(err)
		}
	}
	if d.group != "" {
		if err := e.store.SetDeviceGroup(ctx, id, d.group); err != nil {
			e.t.Fatal(err)
		}
	}
	return id
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test when it is not JSON.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, r.body)
	}
}

// errMsg returns the error body's message.
func (r response) errMsg(t *testing.T) errorBody {
	t.Helper()
	var eb errorBody
	r.json(t, &eb)
	if eb.Error == "" {
		t.Fatalf("error response without a message: %s", r.body)
	}
	return eb
}

// do sends a request as role ("" = no Authorization header) and checks the headers every
// response must carry.
func (e *env) do(role, method, path, contentType string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if role != "" {
		tok, ok := e.tokens[role]
		if !ok {
			tok = role // a raw header value
			req.Header.Set("Authorization", tok)
		} else {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
	} {
		if got := resp.Header.Get(h); got != want {
			e.t.Errorf("%s %s: %s = %q, want %q", method, path, h, got, want)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(path, "/api/v1/export/") || resp.StatusCode != http.StatusOK {
		if ct != "application/json" {
			e.t.Errorf("%s %s: Content-Type = %q, want application/json", method, path, ct)
		}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) get(role, path string) response { return e.do(role, http.MethodGet, path, "", nil) }

func (e *env) postJSON(role, path, body string) response {
	return e.do(role, http.MethodPost, path, "application/json", []byte(body))
}

// wantStatus fails the test unless r has the status.
func wantStatus(t *testing.T, what string, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
}
