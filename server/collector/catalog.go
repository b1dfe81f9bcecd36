package collector

import (
	"context"
	"errors"
	"fmt"

	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

type catalogState struct {
	doc     []byte
	version string
}

// CatalogDocument returns the catalog in force, as pushed to agents, and its version.
func (c *Collector) CatalogDocument() ([]byte, string) {
	cs := c.cat.Load()
	return cs.doc, cs.version
}

// SetCatalog validates a catalog document, records it, puts it in force and pushes it to every
// connected agent (the others get it when they next subscribe). A document that does not
// validate changes nothing and returns catalog.Parse's error.
func (c *Collector) SetCatalog(ctx context.Context, doc []byte, actor string) error {
	cat, err := catalog.Parse(doc)
	if err != nil {
		return err
	}
	now := c.now()
	old := c.cat.Load()
	if old != nil && old.version == cat.Version {
		return fmt.Errorf("catalog %s is already in force: give a new catalog a new version", cat.Version)
	}
	if err := c.store.SaveCatalog(ctx, cat.Version, doc, actor, now); err != nil {
		return fmt.Errorf("record catalog: %w", err)
	}
	_ = c.store.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "catalog.activate", Target: cat.Version,
		Detail: fmt.Sprintf("previous %s; %d remote tools", old.version, len(cat.RemoteTools))})
	c.cat.Store(&catalogState{doc: doc, version: cat.Version})
	pushed := 0
	for _, id := range c.Connected() {
		if c.Push(id, &pb.Push{Id: "catalog-" + cat.Version, Kind: &pb.Push_Catalog{Catalog: &pb.CatalogUpdate{Version: cat.Version, Content: doc}}}) {
			pushed++
		}
	}
	c.log.Info("catalog in force", "version", cat.Version, "previous", old.version, "by", actor, "pushed_to", pushed)
	return nil
}

// CatalogHistory lists the catalogs administrators put in force, newest first.
func (c *Collector) CatalogHistory(ctx context.Context, limit int) ([]store.CatalogRecord, error) {
	return c.store.Catalogs(ctx, limit)
}

// LoadActiveCatalog puts in force the catalog an administrator last activated, if any and if it
// still validates. It stays in force across restarts and upgrades (the log names the built-in
// version it replaces); activate the built-in one again with `policy`-style care if wanted.
func (c *Collector) LoadActiveCatalog(ctx context.Context) error {
	rec, doc, err := c.store.ActiveCatalog(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cat, err := catalog.Parse(doc)
	if err != nil {
		c.log.Warn("stored catalog no longer validates; keeping the built-in one", "version", rec.Version, "err", err)
		return nil
	}
	builtIn := c.cat.Load().version
	c.cat.Store(&catalogState{doc: doc, version: cat.Version})
	c.log.Info("catalog in force from the store", "version", cat.Version, "by", rec.CreatedBy, "built_in", builtIn)
	return nil
}
