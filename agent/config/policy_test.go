package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const hashOfTest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")

func TestParsePolicy(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		hash    string
		set     bool
		wantErr bool
	}{
		{name: "agent section among scoring sections", doc: "schema: 1\nsignals:\n  relay: {weight: 3}\nagent:\n  uninstall_token_sha256: " + hashOfTest + "\n  future_key: 1\n",
			hash: hashOfTest, set: true},
		{name: "upper-case hex", doc: "agent:\n  uninstall_token_sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\n", hash: hashOfTest, set: true},
		{name: "explicit empty lifts the requirement", doc: "agent:\n  uninstall_token_sha256: \"\"\n", set: true},
		{name: "no agent section keeps the stored one", doc: "schema: 1\nbands: {high: 70}\n"},
		{name: "not a hash", doc: "agent:\n  uninstall_token_sha256: letmein\n", wantErr: true},
		{name: "not YAML", doc: "agent: [\n", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, set, err := ParsePolicy([]byte(tc.doc))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if p.UninstallTokenHash != tc.hash || set != tc.set {
				t.Errorf("hash %q set %v, want %q %v", p.UninstallTokenHash, set, tc.hash, tc.set)
			}
		})
	}
}

func TestPolicyOverridesConfiguredHash(t *testing.T) {
	dir := t.TempDir()
	c := Config{StateDir: dir, UninstallTokenHash: "11" + hashOfTest[2:]}
	if h, from, err := EffectiveUninstallHash(c); err != nil || h != c.UninstallTokenHash || from != "configuration" {
		t.Fatalf("before a push: %q %q %v, want the configured hash", h, from, err)
	}
	if err := SavePolicy(dir, AgentPolicy{UninstallTokenHash: hashOfTest, Version: "v7", Received: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, PolicyFile)); err != nil || (st.Mode().Perm() != 0o600 && os.PathSeparator == '/') {
		t.Errorf("policy file %v %v, want 0600", st.Mode(), err)
	}
	if h, _, err := EffectiveUninstallHash(c); err != nil || h != hashOfTest {
		t.Errorf("after a push: %q %v, want the pushed hash", h, err)
	}
	if err := SavePolicy(dir, AgentPolicy{Version: "v8"}); err != nil {
		t.Fatal(err)
	}
	if h, _, err := EffectiveUninstallHash(c); err != nil || h != "" {
		t.Errorf("after a push lifting it: %q %v, want none", h, err)
	}
	os.WriteFile(filepath.Join(dir, PolicyFile), []byte("{"), 0o600)
	if _, _, err := EffectiveUninstallHash(c); err == nil {
		t.Error("corrupt policy file: want an error, not a silently lifted requirement")
	}
}
