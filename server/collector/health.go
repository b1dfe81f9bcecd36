package collector

import (
	"context"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

// The agent's own health, from heartbeats and the report stream: spool evictions and
// unexplained sequence gaps (agent.sequence_gap), a changed executable, a clock set back and a
// second agent using the same identity (agent.tamper), and silence (agent.silent).

var platformRE = regexp.MustCompile(`^[a-z0-9]{1,16}/[a-z0-9]{1,16}$`)

// SilenceSweep is how often WatchSilence looks for silent devices.
const SilenceSweep = 5 * time.Minute

// healthFromHeartbeat validates what a heartbeat says about the agent; bad values are dropped
// (and logged), not stored.
func (c *Collector) healthFromHeartbeat(id string, req *pb.HeartbeatRequest) store.AgentHealth {
	h := store.AgentHealth{Evicted: req.GetEvicted(), Version: clipText(req.GetAgentVersion(), 64)}
	if s := req.GetAgentSha256(); s != "" {
		if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
			h.SHA256 = hex.EncodeToString(b)
		} else {
			c.log.Warn("heartbeat: agent_sha256 is not a hex SHA-256; ignored", "device", id, "value", clip(s))
		}
	}
	if p := req.GetAgentPlatform(); p != "" {
		if platformRE.MatchString(p) {
			h.Platform = p
		} else {
			c.log.Warn("heartbeat: agent_platform is not GOOS/GOARCH; ignored", "device", id, "value", clip(p))
		}
	}
	h.PinnedCAs = pinnedSet(req.GetPinnedCaSha256())
	return h
}

// pinnedSet normalises the CA fingerprints an agent pins: valid hex SHA-256 only, at most 4,
// sorted and comma-separated.
func pinnedSet(fps []string) string {
	var ok []string
	for _, f := range fps {
		if b, err := hex.DecodeString(f); err == nil && len(b) == 32 && len(ok) < 4 {
			ok = append(ok, hex.EncodeToString(b))
		}
	}
	slices.Sort(ok)
	return strings.Join(slices.Compact(ok), ",")
}

// agentHealth acts on a heartbeat's health fields (validated by healthFromHeartbeat) and the
// clock rollback it carried; it says whether findings changed.
func (c *Collector) agentHealth(ctx context.Context, id string, h store.AgentHealth, r *pb.ClockRollback) (bool, error) {
	now := c.now()
	if r == nil && c.sameHealth(id, h, now) {
		return false, nil
	}
	prev, err := c.store.SetAgentHealth(ctx, id, h)
	if err != nil {
		return false, err
	}
	c.rememberHealth(id, h, now)
	changed := false
	if h.Evicted > prev.Evicted {
		changed = true
		c.log.Warn("agent spool evicted reports during an outage", "device", id, "evicted_total", h.Evicted, "new", h.Evicted-prev.Evicted)
		f := &pb.Finding{Signal: "agent.sequence_gap", Key: "spool_evicted", Severity: pb.Severity_SEVERITY_LOW, Confidence: 1,
			Title:    fmt.Sprintf("%d reports evicted from the agent's spool (size cap, oldest first)", h.Evicted),
			Detector: store.DetectorAgent,
			Evidence: map[string]string{"evicted_total": strconv.FormatUint(h.Evicted, 10), "evicted_since_last": strconv.FormatUint(h.Evicted-prev.Evicted, 10),
				"cause": "the agent could not reach the collector long enough for its spool to reach its size cap", "recognised_by": "the agent's heartbeat"}}
		if err := c.store.PutCollectorFinding(ctx, id, f, now); err != nil {
			return changed, err
		}
		// Evictions may explain a gap already flagged.
		if _, err := c.checkGaps(ctx, id); err != nil {
			return changed, err
		}
	}
	if prev.SHA256 != "" && h.SHA256 != "" && h.SHA256 != prev.SHA256 {
		if h.Version == prev.Version && h.Platform == prev.Platform {
			changed = true
			c.log.Warn("agent executable changed without a new version", "device", id, "version", h.Version, "was", prev.SHA256, "now", h.SHA256)
			f := &pb.Finding{Signal: "agent.tamper", Key: "binary_changed", Severity: pb.Severity_SEVERITY_HIGH, Confidence: 0.9,
				Title: "Agent executable changed without a new version", Detector: store.DetectorAgent, Attack: "T1562.001",
				Evidence: map[string]string{"version": h.Version, "platform": h.Platform, "sha256_before": prev.SHA256, "sha256_now": h.SHA256,
					"recognised_by": "the SHA-256 of the running executable, sent with every heartbeat"}}
			if err := c.store.PutCollectorFinding(ctx, id, f, now); err != nil {
				return changed, err
			}
		} else {
			_ = c.store.Audit(ctx, store.AuditEntry{At: now, Actor: "device:" + id, Action: "agent.upgraded", Target: id,
				Detail: fmt.Sprintf("%s %s (%s) -> %s %s (%s)", prev.Version, prev.Platform, hash12(prev.SHA256), h.Version, h.Platform, hash12(h.SHA256))})
		}
	}
	if r != nil {
		from, to := r.GetFrom().AsTime(), r.GetTo().AsTime()
		if r.GetFrom().IsValid() && r.GetTo().IsValid() && from.After(to) && from.Year() < 3000 && to.Year() > 1970 {
			changed = true
			how := r.GetHow()
			if how != "while running" && how != "across a restart" {
				how = "unspecified"
			}
			step := from.Sub(to).Round(time.Second)
			c.log.Warn("agent clock was set back", "device", id, "from", from, "to", to, "how", how)
			f := &pb.Finding{Signal: "agent.tamper", Key: "clock_rollback", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: 0.8,
				Title:    fmt.Sprintf("Clock set back by %s (%s)", step, how),
				Detector: store.DetectorAgent, Attack: "T1070.006",
				Evidence: map[string]string{"from": from.UTC().Format(time.RFC3339), "to": to.UTC().Format(time.RFC3339), "step": step.String(), "how": how,
					"recognised_by": "the agent compares its wall clock with its monotonic clock and with the latest time it saw"}}
			if err := c.store.PutCollectorFinding(ctx, id, f, now); err != nil {
				return changed, err
			}
		} else {
			c.log.Warn("heartbeat: clock rollback with impossible times; ignored", "device", id)
		}
	}
	return changed, nil
}

func hash12(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// checkGaps keeps the agent.sequence_gap "gap" finding in line with the sequences missing below
// the device's highest stored one that the agent's spool evictions do not explain (a deleted
// or replaced spool, or reports withheld). It says whether the finding changed.
func (c *Collector) checkGaps(ctx context.Context, id string) (bool, error) {
	gaps, err := c.store.SequenceGaps(ctx, id)
	if err != nil {
		return false, err
	}
	var missing uint64
	for _, g := range gaps {
		missing += g.To - g.From + 1
	}
	d, err := c.store.Device(ctx, id)
	if err != nil {
		return false, err
	}
	if missing <= d.Agent.Evicted {
		return c.store.DeleteCollectorFinding(ctx, id, "agent.sequence_gap", "gap")
	}
	unexplained := missing - d.Agent.Evicted
	ranges := ""
	for i, g := range gaps {
		if i == 8 {
			ranges += fmt.Sprintf(" and %d more", len(gaps)-i)
			break
		}
		if i > 0 {
			ranges += ", "
		}
		if g.From == g.To {
			ranges += strconv.FormatUint(g.From, 10)
		} else {
			ranges += fmt.Sprintf("%d-%d", g.From, g.To)
		}
	}
	f := &pb.Finding{Signal: "agent.sequence_gap", Key: "gap", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: 0.7,
		Title:    fmt.Sprintf("%d reports never arrived", unexplained),
		Detector: store.DetectorAgent, Attack: "T1562.001",
		Evidence: map[string]string{"missing": strconv.FormatUint(missing, 10), "evicted_by_agent": strconv.FormatUint(d.Agent.Evicted, 10),
			"unexplained": strconv.FormatUint(unexplained, 10), "ranges": ranges,
			"recognised_by": "report sequences skipped below the highest stored one, beyond what the agent said its spool evicted"}}
	return true, c.store.PutCollectorFinding(ctx, id, f, c.now())
}

// duplicateIdentity records that a report arrived under a sequence already stored with other
// content: two agents hold this device's key (a copied state directory or disk image).
func (c *Collector) duplicateIdentity(ctx context.Context, id string, seq uint64) error {
	addr := remoteAddr(ctx)
	c.log.Warn("a second agent uses this device's identity: conflicting report for a stored sequence", "device", id, "sequence", seq, "addr", addr)
	f := &pb.Finding{Signal: "agent.tamper", Key: "duplicate_identity", Severity: pb.Severity_SEVERITY_HIGH, Confidence: 0.9,
		Title:    "Two agents use this device's identity",
		Detector: store.DetectorAgent, Attack: "T1036",
		Evidence: map[string]string{"sequence": strconv.FormatUint(seq, 10), "address": addr,
			"recognised_by": "a report for a sequence already stored arrived with different content (kept apart, not stored over the first)"}}
	return c.store.PutCollectorFinding(ctx, id, f, c.now())
}

// SweepSilence raises agent.silent on devices not heard from for the policy's silent_after
// (low; medium after a week) and removes it from devices heard from again. It returns how
// many devices it flagged and cleared.
func (c *Collector) SweepSilence(ctx context.Context) (flagged, cleared int, err error) {
	// Who is silent is judged on last seen times, the heartbeats' included.
	if err := c.FlushSeen(ctx); err != nil {
		return 0, 0, err
	}
	now := c.now()
	after := c.policy.Load().Agent.SilentAfter
	if after <= 0 {
		after = 72 * time.Hour
	}
	back, err := c.store.SilentFlaggedSeen(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, id := range back {
		if ok, err := c.store.DeleteCollectorFinding(ctx, id, "agent.silent", "silent"); err != nil {
			return flagged, cleared, err
		} else if ok {
			cleared++
			c.log.Info("silent device heard from again", "device", id)
			if _, err := c.Rescore(ctx, id); err != nil {
				c.log.Warn("score", "device", id, "err", err)
			}
		}
	}
	silent, err := c.store.SilentDevices(ctx, now.Add(-after))
	if err != nil {
		return flagged, cleared, err
	}
	for _, d := range silent {
		last := d.LastSeen
		if last.IsZero() {
			last = d.EnrolledAt
		}
		sev := pb.Severity_SEVERITY_LOW
		if now.Sub(last) >= 7*24*time.Hour {
			sev = pb.Severity_SEVERITY_MEDIUM
		}
		if d.Flagged == sev {
			continue
		}
		silentFor := now.Sub(last).Truncate(time.Hour)
		f := &pb.Finding{Signal: "agent.silent", Key: "silent", Severity: sev, Confidence: 0.6,
			Title:    fmt.Sprintf("Not heard from since %s", last.UTC().Format("2006-01-02 15:04 MST")),
			Detector: store.DetectorAgent, Attack: "T1562.001",
			Evidence: map[string]string{"last_seen": last.UTC().Format(time.RFC3339), "silent_for_at_least": silentFor.String(), "silent_after": after.String(),
				"recognised_by": "no report or heartbeat for longer than the policy's agent.silent_after"}}
		if err := c.store.PutCollectorFinding(ctx, d.ID, f, now); err != nil {
			return flagged, cleared, err
		}
		flagged++
		if _, err := c.Rescore(ctx, d.ID); err != nil {
			c.log.Warn("score", "device", d.ID, "err", err)
		}
	}
	if flagged > 0 || cleared > 0 {
		c.log.Info("silence sweep", "flagged", flagged, "cleared", cleared, "silent_after", after)
	}
	return flagged, cleared, nil
}

// WatchSilence runs SweepSilence every interval until ctx ends.
func (c *Collector) WatchSilence(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, _, err := c.SweepSilence(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("silence sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthSeen is the health a device's last heartbeat carried here, and when it was stored.
type healthSeen struct {
	h  store.AgentHealth
	at time.Time
}

// sameHealth says whether a heartbeat repeats what this collector stored for the device less
// than ObserveRefresh ago: most heartbeats, which then cost no store call. (The refresh bounds
// how long a change recorded by another replica can hide a change back.)
func (c *Collector) sameHealth(id string, h store.AgentHealth, now time.Time) bool {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	seen, ok := c.health[id]
	return ok && seen.h == h && now.Sub(seen.at) < ObserveRefresh
}

func (c *Collector) rememberHealth(id string, h store.AgentHealth, now time.Time) {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	if c.health == nil {
		c.health = map[string]healthSeen{}
	}
	c.health[id] = healthSeen{h: h, at: now}
}
