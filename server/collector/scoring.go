package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/fleet"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/score"
	"github.com/farmwatch/farmwatch/server/store"
)

// Policy returns the scoring policy in force.
func (c *Collector) Policy() *policy.Policy { return c.policy.Load() }

// SetPolicy validates nothing (the policy package did), records the policy as the active
// version, audits who changed it, puts it in force and rescores every device.
func (c *Collector) SetPolicy(ctx context.Context, p *policy.Policy, actor string) error {
	now := c.now()
	if old := c.policy.Load(); old != nil && old.Version() == p.Version() {
		return nil
	}
	if err := c.store.SavePolicy(ctx, store.PolicyRecord{Version: p.Version(), Content: p.Source(), CreatedAt: now, CreatedBy: actor, ActivatedAt: now}); err != nil {
		return fmt.Errorf("record policy: %w", err)
	}
	prev, detail := "none", "first policy"
	if old := c.policy.Load(); old != nil {
		prev = old.Version()
		detail = "previous " + prev
		if ch := policy.Changes(old, p); len(ch) > 0 {
			detail += ": " + strings.Join(ch, "; ")
		}
	}
	if len(detail) > 4000 {
		detail = detail[:4000] + "…"
	}
	_ = c.store.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "policy.activate", Target: p.Version(), Detail: detail})
	c.policy.Store(p)
	c.applyLocation(p)
	pushed := 0
	for _, id := range c.Connected() {
		if c.Push(id, policyPush(p, now)) {
			pushed++
		}
	}
	if pushed > 0 {
		c.log.Info("policy pushed to connected agents", "version", p.Version(), "agents", pushed)
	}
	c.log.Info("policy in force", "version", p.Version(), "previous", prev, "by", actor)
	go func() {
		ctx := context.WithoutCancel(ctx)
		if err := c.Correlate(ctx); err != nil {
			c.log.Warn("fleet correlation after policy change", "err", err)
		}
		if _, err := c.RefreshLocations(ctx); err != nil {
			c.log.Warn("location refresh after policy change", "err", err)
		}
		if n, err := c.RescoreAll(ctx); err != nil {
			c.log.Warn("rescore after policy change", "err", err)
		} else {
			c.log.Info("devices rescored", "devices", n, "policy", p.Version())
		}
	}()
	return nil
}

// Rescore recomputes one device's score from its current findings under the policy in force.
func (c *Collector) Rescore(ctx context.Context, id string) (score.Result, error) {
	p := c.policy.Load()
	d, err := c.store.Device(ctx, id)
	if err != nil {
		return score.Result{}, err
	}
	fs, err := c.store.Findings(ctx, id)
	if err != nil {
		return score.Result{}, err
	}
	now := c.now()
	r := score.Score(p, score.Device{ID: id, Group: d.Group, Findings: fs}, now)
	b, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	if err := c.store.SetScore(ctx, id, store.Score{Value: r.Score, Band: r.Band, Breakdown: b, PolicyVersion: r.PolicyVersion, At: now}); err != nil {
		return r, err
	}
	if d.Band != r.Band && (d.Band != "" || r.Band == "high" || r.Band == "critical") {
		c.log.Info("device band changed", "device", id, "hostname", d.Hostname, "from", d.Band, "to", r.Band, "score", r.Score)
		c.emit(Event{Kind: "band_change", DeviceID: id, Hostname: d.Hostname, From: d.Band, To: r.Band, Score: r.Score})
	}
	return r, nil
}

// RescoreAll rescores every device that is not revoked.
func (c *Collector) RescoreAll(ctx context.Context) (int, error) {
	ids, err := c.store.DeviceIDs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if _, err := c.Rescore(ctx, id); err != nil {
			c.log.Warn("rescore", "device", id, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// Correlate finds the clusters of devices that share a home, stores them with their fleet
// findings, and rescores the devices whose fleet findings changed.
func (c *Collector) Correlate(ctx context.Context) error {
	c.correlateMu.Lock()
	defer c.correlateMu.Unlock()
	p := c.policy.Load()
	ids, err := c.store.DeviceIDs(ctx)
	if err != nil {
		return err
	}
	members := make([]fleet.Member, 0, len(ids))
	for _, id := range ids {
		d, err := c.store.Device(ctx, id)
		if err != nil {
			continue
		}
		facts, factsAt, err := c.store.Facts(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		eg, err := c.store.Egresses(ctx, id)
		if err != nil {
			return err
		}
		members = append(members, fleet.Member{DeviceID: id, Hostname: d.Hostname, MACs: d.MACAddresses, Egress: eg, Facts: fleet.Relevant(facts), FactsAt: factsAt, LastSeen: d.LastSeen})
	}
	now := c.now()
	clusters, notes := fleet.Correlate(members, fleetConfig(p), now)
	for _, n := range notes {
		c.log.Info("fleet correlation", "note", n)
	}
	out := make([]store.Cluster, 0, len(clusters))
	for _, cl := range clusters {
		sc := store.Cluster{ID: cl.ID, Members: cl.Members, Kinds: cl.Kinds, First: cl.First, Last: cl.Last, Updated: now}
		for _, l := range cl.Links {
			sc.Links = append(sc.Links, store.ClusterLink{Kind: l.Kind, Value: l.Value, Devices: l.Devices, First: l.First, Last: l.Last})
		}
		out = append(out, sc)
	}
	before, _ := c.store.Clusters(ctx)
	if err := c.store.ReplaceFleet(ctx, out, fleet.Findings(clusters), now); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, cl := range before {
		known[cl.ID] = true
	}
	for i := range out {
		if !known[out[i].ID] {
			c.log.Info("new cluster", "cluster", out[i].ID, "members", len(out[i].Members), "kinds", out[i].Kinds)
			c.emit(Event{Kind: "new_cluster", Cluster: &out[i]})
		}
	}
	changed := map[string]bool{}
	for _, cs := range [][]store.Cluster{before, out} {
		for _, cl := range cs {
			for _, m := range cl.Members {
				changed[m] = true
			}
		}
	}
	for id := range changed {
		if _, err := c.Rescore(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			c.log.Warn("rescore", "device", id, "err", err)
		}
	}
	if len(out) != len(before) {
		c.log.Info("fleet clusters", "clusters", len(out), "before", len(before))
	}
	return nil
}

func fleetConfig(p *policy.Policy) fleet.Config {
	return fleet.Config{Window: p.Fleet.Window, MinMembers: p.Fleet.MinMembers, CorporateEgress: p.CorporateEgress, IgnoreValues: p.Fleet.IgnoreValues}
}

// WatchFleet correlates the fleet every interval until ctx ends, and rescores every device
// hourly (findings decay with time even when nothing new arrives).
func (c *Collector) WatchFleet(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastRescore := c.now()
	for {
		if err := c.Correlate(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("fleet correlation", "err", err)
		}
		if c.now().Sub(lastRescore) >= time.Hour {
			lastRescore = c.now()
			if _, err := c.RescoreAll(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("hourly rescore", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// applyLocation puts the policy's location thresholds in force, with the collector's place.
func (c *Collector) applyLocation(p *policy.Policy) {
	loc := p.Location()
	loc.Collector = c.collectorAt
	c.loc.Store(&loc)
}

// policyPush carries the policy to an agent, which acts on its agent section (the uninstall
// token) and ignores the scoring part.
func policyPush(p *policy.Policy, now time.Time) *pb.Push {
	return &pb.Push{Id: "policy-" + p.Version(), Created: timestamppb.New(now),
		Kind: &pb.Push_Policy{Policy: &pb.PolicyUpdate{Version: p.Version(), Content: p.Source(), Updated: timestamppb.New(now)}}}
}
