package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/farmwatch/farmwatch/agent/config"
)

// fakeManager stands in for the OS service manager; calls records what was asked, in order.
type fakeManager struct {
	status service.Status
	err    error // from Status
	calls  *[]string
}

func (m fakeManager) Install() error   { *m.calls = append(*m.calls, "install"); return nil }
func (m fakeManager) Uninstall() error { *m.calls = append(*m.calls, "uninstall"); return nil }
func (m fakeManager) Start() error     { *m.calls = append(*m.calls, "start"); return nil }
func (m fakeManager) Stop() error      { *m.calls = append(*m.calls, "stop"); return nil }
func (m fakeManager) Status() (service.Status, error) {
	return m.status, m.err
}

type fakes struct {
	calls      []string
	goodbyeErr error
	out, errs  bytes.Buffer
}

func (f *fakes) controller(st service.Status, stErr error) *controller {
	return &controller{
		manager: func(string) (serviceManager, error) {
			return fakeManager{status: st, err: stErr, calls: &f.calls}, nil
		},
		goodbye: func(_ context.Context, _ config.Config, reason, actor string, authorized bool) error {
			f.calls = append(f.calls, "goodbye "+reason+" by "+actor+" authorized="+map[bool]string{true: "yes", false: "no"}[authorized])
			return f.goodbyeErr
		},
		actor:  func() string { return "alice" },
		stdout: &f.out, stderr: &f.errs,
	}
}

const (
	token     = "test"
	tokenHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")
)

func TestUninstallToken(t *testing.T) {
	cases := []struct {
		name       string
		pushed     *string // policy file in the state directory
		preset     string  // uninstall_token_sha256 in the configuration
		token      string
		goodbyeErr error
		refused    bool
		calls      []string
	}{
		{name: "pushed token, none given", pushed: ptr(tokenHash), refused: true},
		{name: "pushed token, wrong one", pushed: ptr(tokenHash), token: "guess", refused: true},
		{name: "pushed token, right one", pushed: ptr(tokenHash), token: token,
			calls: []string{"goodbye uninstall by alice authorized=yes", "stop", "uninstall"}},
		{name: "preset token, none given", preset: tokenHash, refused: true},
		{name: "preset token, right one", preset: tokenHash, token: token,
			calls: []string{"goodbye uninstall by alice authorized=yes", "stop", "uninstall"}},
		{name: "policy lifted the preset token", pushed: ptr(""), preset: tokenHash,
			calls: []string{"goodbye uninstall by alice authorized=no", "stop", "uninstall"}},
		{name: "no token anywhere", calls: []string{"goodbye uninstall by alice authorized=no", "stop", "uninstall"}},
		{name: "collector unreachable does not block an authorised uninstall", pushed: ptr(tokenHash), token: token,
			goodbyeErr: errors.New("collector unavailable"),
			calls:      []string{"goodbye uninstall by alice authorized=yes", "stop", "uninstall"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.pushed != nil {
				if err := config.SavePolicy(dir, config.AgentPolicy{UninstallTokenHash: *tc.pushed, Version: "v1"}); err != nil {
					t.Fatal(err)
				}
			}
			f := &fakes{goodbyeErr: tc.goodbyeErr}
			err := f.controller(service.StatusRunning, nil).uninstall(context.Background(),
				config.Config{StateDir: dir, UninstallTokenHash: tc.preset}, "", tc.token)
			if tc.refused {
				if !errors.Is(err, errRefused) {
					t.Fatalf("err %v, want a refusal", err)
				}
				if len(f.calls) != 0 {
					t.Errorf("a refused uninstall did %v", f.calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(f.calls, "; ") != strings.Join(tc.calls, "; ") {
				t.Errorf("calls %q, want %q", f.calls, tc.calls)
			}
			if tc.goodbyeErr != nil && !strings.Contains(f.errs.String(), "could not tell the collector") {
				t.Errorf("stderr %q, want a note that the collector was not told", f.errs.String())
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestUninstallNotInstalled(t *testing.T) {
	f := &fakes{}
	err := f.controller(service.StatusUnknown, service.ErrNotInstalled).uninstall(context.Background(), config.Config{StateDir: t.TempDir()}, "", "")
	if err == nil || len(f.calls) != 0 {
		t.Errorf("err %v calls %v, want an error and nothing done", err, f.calls)
	}
}

func TestStopSaysGoodbyeFirstOnce(t *testing.T) {
	dir := t.TempDir()
	f := &fakes{}
	if err := f.controller(service.StatusRunning, nil).stop(context.Background(), config.Config{StateDir: dir}, ""); err != nil {
		t.Fatal(err)
	}
	if want := "goodbye stop by alice authorized=no; stop"; strings.Join(f.calls, "; ") != want {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
	// The service's Stop hook then finds the mark and does not say goodbye again.
	if !takeGoodbyeMark(dir, time.Now()) {
		t.Error("no goodbye mark after stop")
	}
	if takeGoodbyeMark(dir, time.Now()) {
		t.Error("the mark was not cleared")
	}
	markGoodbye(dir, "stop")
	if takeGoodbyeMark(dir, time.Now().Add(goodbyeMarkTTL+time.Second)) {
		t.Error("an old mark silenced a later stop")
	}

	f = &fakes{}
	if err := f.controller(service.StatusStopped, nil).stop(context.Background(), config.Config{StateDir: dir}, ""); err != nil || len(f.calls) != 0 {
		t.Errorf("stop of a stopped service: %v %v, want nothing done", err, f.calls)
	}
}

func TestStatusExitCodes(t *testing.T) {
	cases := []struct {
		st   service.Status
		err  error
		code int
		out  string
	}{
		{service.StatusRunning, nil, 0, "running"},
		{service.StatusStopped, nil, 3, "stopped"},
		{service.StatusUnknown, service.ErrNotInstalled, 4, "not installed"},
	}
	for _, tc := range cases {
		f := &fakes{}
		err := f.controller(tc.st, tc.err).status("")
		code := 0
		var ec exitCode
		if errors.As(err, &ec) {
			code = int(ec)
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || strings.TrimSpace(f.out.String()) != tc.out {
			t.Errorf("status %q exit %d, want %q %d", f.out.String(), code, tc.out, tc.code)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FARMWATCH_STATE_DIR", dir)
	t.Setenv("FARMWATCH_ENROLL_SECRET", "hunter2")
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("server: c.example.com:8443\ninterval: 10m\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("server: c.example.com\ninterval: 1s\ncolour: red\n"), 0o644)

	var out, errs bytes.Buffer
	if code := run([]string{"config", "check", "--config", good}, &out, &errs); code != 0 {
		t.Fatalf("good config: exit %d\n%s%s", code, out.String(), errs.String())
	}
	for _, want := range []string{good + ":1", "10m0s", "environment FARMWATCH_STATE_DIR", "(redacted)", "configuration OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Error("config check printed the enroll secret")
	}

	out.Reset()
	if code := run([]string{"config", "check", "--config", bad}, &out, &errs); code != 1 {
		t.Fatalf("bad config: exit %d, want 1\n%s", code, out.String())
	}
	for _, want := range []string{"3 problem(s)", bad + ":3: colour: unknown setting", bad + ":1: server:", bad + ":2: interval: 1s is too short"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
