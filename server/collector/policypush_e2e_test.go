package collector_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/farmwatch/farmwatch/agent/config"
	"github.com/farmwatch/farmwatch/server/policy"
)

// The policy's agent section reaches a connected agent, which keeps the uninstall token hash.
func TestPolicyPushCarriesTheUninstallToken(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.r.Run(runCtx) }()
	defer func() { stop(); <-done }()
	waitFor(t, "agent subscribed", func() bool { return len(c.col.Connected()) == 1 })

	sum := sha256.Sum256([]byte("fwu_correct-token"))
	h := hex.EncodeToString(sum[:])
	p, err := policy.Parse([]byte("schema: 1\nagent:\n  uninstall_token_sha256: " + h + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.col.SetPolicy(ctx, p, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "agent stored the uninstall token hash", func() bool {
		ap, ok, err := config.LoadPolicy(a.dir.Path)
		return err == nil && ok && ap.UninstallTokenHash == h
	})
}
