package collector

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/farmwatch/farmwatch/server/geoip"
	"github.com/farmwatch/farmwatch/server/location"
	"github.com/farmwatch/farmwatch/server/store"
)

// observeWith records where a device's call came from (egress, already unmapped) and the round
// trip of its connection, and re-derives its location findings after a new report or when the
// egress or round trip changed; it says whether it re-derived them. Failures are logged: the
// call itself has already been served.
func (c *Collector) observeWith(ctx context.Context, id string, egress netip.Addr, rtt time.Duration, hasRTT, newReport bool) bool {
	now := c.now()
	changed := newReport
	oc := c.observed(id)
	if egress.IsValid() && (oc.egress != egress || now.Sub(oc.egressAt) >= ObserveRefresh) {
		e := store.Egress{Address: egress.String(), LastSeen: now}
		if c.geo != nil {
			r := c.geo.Lookup(egress)
			e.Country, e.ASN, e.ASOrg, e.Class = r.Country, r.ASN, r.ASOrg, r.Class
		}
		got, err := c.store.RecordEgress(ctx, id, e)
		if err != nil {
			c.log.Warn("record egress", "device", id, "err", err)
		} else {
			oc.egress, oc.egressAt = egress, now
			if got.Seen == 1 {
				changed = true
				c.log.Info("device connects from a new address", "device", id, "addr", e.Address, "country", e.Country, "asn", e.ASN, "class", e.Class)
			}
		}
	}
	minSamples := c.loc.Load().RTTMinSamples
	// A round trip no better than the known minimum, with enough samples, in the same window,
	// recently written, changes nothing: it is not written again.
	same := !oc.rttAt.IsZero() && rtt >= oc.rtt.Min && oc.rtt.Samples >= minSamples &&
		now.Sub(oc.rtt.WindowStart) < c.rttWindow && now.Sub(oc.rttAt) < ObserveRefresh
	if hasRTT && !same {
		before := oc.rtt
		if oc.rttAt.IsZero() {
			before, _ = c.store.RTT(ctx, id)
		}
		after, err := c.store.RecordRTT(ctx, id, rtt, egress.String(), now, c.rttWindow)
		if err != nil {
			c.log.Warn("record round trip", "device", id, "err", err)
		} else {
			oc.rtt, oc.rttAt = after, now
			if after.Min != before.Min || (after.Samples >= minSamples && before.Samples < minSamples) {
				changed = true
			}
		}
	}
	c.remember(id, oc)
	if changed {
		if err := c.refreshLocation(ctx, id, egress); err != nil {
			c.log.Warn("location analysis", "device", id, "err", err)
		}
	}
	return changed
}

// ObserveRefresh is how often an unchanged egress address or round trip of a device is written
// again (last seen, sample counts); a new address, a better round trip or a new window are
// written at once.
const ObserveRefresh = 10 * time.Minute

// observation is what the collector last wrote of a device's egress and round trip.
type observation struct {
	egress   netip.Addr
	egressAt time.Time
	rtt      store.RTT
	rttAt    time.Time
}

func (c *Collector) observed(id string) observation {
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	return c.obs[id]
}

func (c *Collector) remember(id string, o observation) {
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	if c.obs == nil {
		c.obs = map[string]observation{}
	}
	c.obs[id] = o
}

// RefreshLocations re-derives the location findings of every device that is not revoked:
// after an HR import, and periodically, since activity windows and zone churn move with time.
func (c *Collector) RefreshLocations(ctx context.Context) (int, error) {
	n := 0
	for off := 0; ; {
		ds, _, err := c.store.Devices(ctx, store.DeviceFilter{Sort: "enrolled", Limit: 1000, Offset: off})
		if err != nil {
			return n, err
		}
		for _, d := range ds {
			if !d.RevokedAt.IsZero() {
				continue
			}
			if err := c.refreshLocation(ctx, d.ID, netip.Addr{}); err != nil {
				c.log.Warn("location analysis", "device", d.ID, "err", err)
				continue
			}
			n++
		}
		if len(ds) < 1000 {
			return n, nil
		}
		off += len(ds)
	}
}

// WatchLocations runs RefreshLocations when the HR import changes (checked every minute) and
// every hour, until ctx ends.
func (c *Collector) WatchLocations(ctx context.Context) {
	var lastImport time.Time
	lastFull := c.now()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at, rows, err := c.store.PeopleImported(ctx)
		if err != nil {
			c.log.Warn("HR import check", "err", err)
			continue
		}
		changed := !at.Equal(lastImport)
		if !changed && c.now().Sub(lastFull) < time.Hour {
			continue
		}
		if changed {
			c.log.Info("HR import changed; re-deriving location findings", "employees", rows, "imported", at)
		}
		lastImport, lastFull = at, c.now()
		if n, err := c.RefreshLocations(ctx); err != nil {
			c.log.Warn("location refresh", "err", err)
		} else {
			c.log.Debug("location findings refreshed", "devices", n)
		}
	}
}

// refreshLocation runs the location analysis over what the store knows of the device. An
// invalid egress means the device's last known address.
func (c *Collector) refreshLocation(ctx context.Context, id string, egress netip.Addr) error {
	d, err := c.store.Device(ctx, id)
	if err != nil {
		return err
	}
	if !egress.IsValid() {
		egress, _ = netip.ParseAddr(d.LastAddress)
		egress = egress.Unmap()
	}
	facts, _, err := c.store.Facts(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	fs, err := c.store.Findings(ctx, id)
	if err != nil {
		return err
	}
	agent := fs[:0]
	for _, f := range fs {
		if f.Source != "collector" {
			agent = append(agent, f)
		}
	}
	in := location.Input{Now: c.now(), Facts: facts, AgentFindings: agent, Egress: egress, LocateDisabled: c.geoDisabled}
	if p, err := c.store.PersonForDevice(ctx, d); err == nil {
		in.Person = &p
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if in.RTT, err = c.store.RTT(ctx, id); err != nil {
		return err
	}
	if c.geo != nil {
		in.Locate = Locator(c.geo)
	}
	res := location.Analyze(in, *c.loc.Load())
	return c.store.ReplaceCollectorFindings(ctx, id, res.Findings, res.Notes, in.Now)
}

// Locator adapts the geolocation database to the location package.
func Locator(db *geoip.DB) location.Locator {
	return func(a netip.Addr) location.Place {
		r := db.Lookup(a)
		return location.Place{Country: r.Country, ASN: r.ASN, ASOrg: r.ASOrg, Class: r.Class, ClassNote: r.ClassNote, Private: r.Private}
	}
}
