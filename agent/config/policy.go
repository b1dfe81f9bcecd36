package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
)

// PolicyFile is the file in the state directory that keeps what the agent takes from the
// collector's policy.
const PolicyFile = "policy-agent.json"

// AgentPolicy is the agent's part of the collector's policy: the `agent:` section.
type AgentPolicy struct {
	// UninstallTokenHash is the lower-case hex SHA-256 of the uninstall token; "" means uninstall
	// needs no token.
	UninstallTokenHash string    `json:"uninstall_token_sha256"`
	Version            string    `json:"policy_version,omitempty"`
	Received           time.Time `json:"received"`
}

// ParsePolicy reads the `agent:` section of a pushed policy document. Everything else (the
// collector's scoring) is ignored, as are unknown keys, so that the collector's policy can grow
// without breaking older agents. set is false when the policy does not mention the token: the
// stored one is then kept, so a policy written before the agent section existed does not clear it.
func ParsePolicy(doc []byte) (p AgentPolicy, set bool, err error) {
	var v struct {
		Agent struct {
			Token *string `yaml:"uninstall_token_sha256"`
		} `yaml:"agent"`
	}
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return p, false, fmt.Errorf("policy: %w", err)
	}
	if v.Agent.Token == nil {
		return p, false, nil
	}
	if *v.Agent.Token != "" {
		h, err := NormalizeTokenHash(*v.Agent.Token)
		if err != nil {
			return p, false, fmt.Errorf("policy agent.uninstall_token_sha256: %w", err)
		}
		p.UninstallTokenHash = h
	}
	return p, true, nil
}

// SavePolicy stores p in the state directory, owner-only.
func SavePolicy(stateDir string, p AgentPolicy) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(stateDir, PolicyFile), append(b, '\n'), 0o600)
}

// LoadPolicy reads what SavePolicy stored; ok is false when nothing was ever pushed.
func LoadPolicy(stateDir string) (p AgentPolicy, ok bool, err error) {
	path := filepath.Join(stateDir, PolicyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, false, fmt.Errorf("%s is corrupt: %w", path, err)
	}
	if p.UninstallTokenHash != "" {
		if p.UninstallTokenHash, err = NormalizeTokenHash(p.UninstallTokenHash); err != nil {
			return p, false, fmt.Errorf("%s: %w", path, err)
		}
	}
	return p, true, nil
}

// EffectiveUninstallHash is the token hash uninstall must check: the one the collector pushed
// when it pushed one (even "", which lifts the requirement), else the configured one. from says
// which, for messages.
func EffectiveUninstallHash(c Config) (hash, from string, err error) {
	p, ok, err := LoadPolicy(c.StateDir)
	if err != nil {
		// A corrupt policy file must not lift the requirement: fall back to the configured hash
		// and let the caller refuse when neither is usable.
		return c.UninstallTokenHash, "configuration", err
	}
	if ok {
		return p.UninstallTokenHash, fmt.Sprintf("collector policy %s received %s", p.Version, p.Received.Format(time.RFC3339)), nil
	}
	return c.UninstallTokenHash, "configuration", nil
}
