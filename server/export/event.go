package export

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/farmwatch/farmwatch/server/store"
)

// Event kinds.
const (
	KindBandChange = "band_change" // a device's score moved from one band to another
	KindNewCluster = "new_cluster" // the fleet correlation found a new cluster
)

// Event is one security event as every sink sends it. The JSON form is what webhooks post and
// what the JSON-lines file holds, one object per line.
type Event struct {
	Kind string    `json:"kind"` // KindBandChange or KindNewCluster
	At   time.Time `json:"at"`
	// ID is random and unique per event, for receivers to deduplicate retried deliveries.
	ID       string `json:"id"`
	DeviceID string `json:"device_id,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	// From and To are score bands: low, medium, high, critical ("" when not scored before).
	From    string       `json:"from,omitempty"`
	To      string       `json:"to,omitempty"`
	Score   float64      `json:"score,omitempty"`
	Cluster *ClusterInfo `json:"cluster,omitempty"`
}

// ClusterInfo names a cluster of devices that share a home, and the kinds of evidence linking them.
type ClusterInfo struct {
	ID      string   `json:"id"`
	Members []string `json:"members"`
	Kinds   []string `json:"kinds"`
}

// BandChange is the event for a device whose band moved from `from` to its current d.Band.
func BandChange(d store.Device, from string, at time.Time) Event {
	return Event{Kind: KindBandChange, At: at, DeviceID: d.ID, Hostname: d.Hostname, From: from, To: d.Band, Score: d.Score}
}

// NewCluster is the event for a cluster the fleet correlation found for the first time.
func NewCluster(c store.Cluster, at time.Time) Event {
	return Event{Kind: KindNewCluster, At: at, Cluster: &ClusterInfo{
		ID:      c.ID,
		Members: append([]string(nil), c.Members...),
		Kinds:   append([]string(nil), c.Kinds...),
	}}
}

// newID returns 128 random bits in hex.
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}
