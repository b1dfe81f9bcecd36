package collector_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/catalog"
)

// An administrator's catalog: refused when it does not validate, else recorded, audited, in
// force, pushed to a connected agent (which keeps it), and still in force after a restart.
func TestCatalogActivationPushesToAgents(t *testing.T) {
	dir := t.TempDir()
	c := startCollector(t, dir, "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	if err := c.col.SetCatalog(ctx, []byte(`{"version": "1.x", "remote_tools": "nope"}`), "user:ana"); err == nil {
		t.Fatal("an invalid catalog was accepted")
	}
	if hs, _ := c.col.CatalogHistory(ctx, 10); len(hs) != 0 {
		t.Fatalf("history after a refused catalog: %+v", hs)
	}
	var doc map[string]any
	if err := json.Unmarshal(catalog.DefaultDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["version"] = "1.0000000000aa"
	next, _ := json.Marshal(doc)

	runCtx, stop := ctxWithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.r.Run(runCtx) }()
	waitFor(t, "agent subscribed", func() bool { return len(c.col.Connected()) == 1 })
	if err := c.col.SetCatalog(ctx, next, "user:ana"); err != nil {
		t.Fatal(err)
	}
	if _, v := c.col.CatalogDocument(); v != "1.0000000000aa" {
		t.Fatalf("catalog in force %s", v)
	}
	waitFor(t, "agent kept the pushed catalog", func() bool {
		b, err := a.dir.Catalog()
		return err == nil && strings.Contains(string(b), "1.0000000000aa")
	})
	stop()
	<-done
	hs, _ := c.col.CatalogHistory(ctx, 10)
	if len(hs) != 1 || hs[0].Version != "1.0000000000aa" || hs[0].CreatedBy != "user:ana" {
		t.Fatalf("history = %+v", hs)
	}
	log, _ := c.st.AuditLog(ctx, 20)
	found := false
	for _, e := range log {
		found = found || (e.Action == "catalog.activate" && e.Target == "1.0000000000aa")
	}
	if !found {
		t.Fatal("catalog activation not audited")
	}
	// A restarted collector puts the administrator's catalog back in force.
	c.stop()
	c2 := startCollector(t, dir, "127.0.0.1:0")
	if err := c2.col.LoadActiveCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	if _, v := c2.col.CatalogDocument(); v != "1.0000000000aa" {
		t.Fatalf("after restart: %s", v)
	}
}

func ctxWithCancel(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(parent)
}
