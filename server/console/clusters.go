package console

import (
	"context"
	"errors"
	"net/http"

	"github.com/farmwatch/farmwatch/server/store"
)

// maxMemberLookups bounds the device lookups one clusters page makes to name members; members
// beyond it are listed by id.
const maxMemberLookups = 1000

type memberView struct {
	ID, ShortID, Hostname string
	Band, Score           string
}

type clusterLinkView struct {
	Kind, Value string
	Devices     int
	First, Last stamp
}

type clusterView struct {
	ID          string
	Members     []memberView
	Kinds       []string
	Links       []clusterLinkView
	First, Last stamp
	Updated     stamp
}

// clusterList is GET /clusters: the groups of devices the fleet correlation found sharing a
// home (an egress address, a Wi-Fi, a gateway...).
func (c *Console) clusterList(w http.ResponseWriter, r *http.Request, s store.Session) {
	ctx := r.Context()
	clusters, err := c.store.Clusters(ctx)
	if err != nil {
		c.log.Error("console clusters", "err", err, "user", s.Username)
		c.renderError(w, r, http.StatusInternalServerError, "Clusters unavailable", "The clusters could not be loaded. Try again in a moment.", s)
		return
	}
	names := map[string]store.Device{}
	var views []clusterView
	for _, cl := range clusters {
		v := clusterView{ID: cl.ID, Kinds: cl.Kinds, First: c.stamp(cl.First), Last: c.stamp(cl.Last), Updated: c.stamp(cl.Updated)}
		for _, id := range cl.Members {
			m, err := c.member(ctx, names, id)
			if err != nil {
				c.log.Error("console clusters: load member", "device", id, "err", err)
				c.renderError(w, r, http.StatusInternalServerError, "Clusters unavailable", "The clusters could not be loaded. Try again in a moment.", s)
				return
			}
			v.Members = append(v.Members, m)
		}
		for _, l := range cl.Links {
			v.Links = append(v.Links, clusterLinkView{Kind: l.Kind, Value: l.Value, Devices: len(l.Devices), First: c.stamp(l.First), Last: c.stamp(l.Last)})
		}
		views = append(views, v)
	}
	c.show(w, r, s, "clusters", "Clusters", "clusters", views)
}

// member names a cluster member, looking each device up once.
func (c *Console) member(ctx context.Context, seen map[string]store.Device, id string) (memberView, error) {
	m := memberView{ID: id, ShortID: id[:min(len(id), 12)]}
	d, ok := seen[id]
	if !ok && len(seen) < maxMemberLookups {
		var err error
		d, err = c.store.Device(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return m, err
		}
		seen[id] = d
	}
	m.Hostname = d.Hostname
	if d.Band != "" {
		m.Band, m.Score = d.Band, formatScore(d.Score)
	}
	return m, nil
}
