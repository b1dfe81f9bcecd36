package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// MaxZoneChanges is how many zone changes the agent remembers and reports.
const MaxZoneChanges = 32

// ZoneHistory remembers the time zone of earlier scans in a file of the agent's state, so that
// a laptop whose zone is switched back and forth (to look local during working hours) shows it.
// Daylight-saving transitions are not changes: only a change of zone name counts, or of offset
// when the OS gives no zone name.
type ZoneHistory struct {
	path string
	mu   sync.Mutex
	st   zoneState
}

type zoneState struct {
	Zone    string       `json:"zone"`
	Offset  int32        `json:"offset"`
	Known   bool         `json:"known"`
	Changes []zoneChange `json:"changes"`
}

type zoneChange struct {
	At         time.Time `json:"at"`
	FromZone   string    `json:"from_zone"`
	ToZone     string    `json:"to_zone"`
	FromOffset int32     `json:"from_offset"`
	ToOffset   int32     `json:"to_offset"`
}

// OpenZoneHistory loads the history at path. A missing file starts empty; a corrupt one is set
// aside (renamed .corrupt) and the history starts again, with the error returned for logging.
func OpenZoneHistory(path string) (*ZoneHistory, error) {
	h := &ZoneHistory{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(b, &h.st); err != nil || len(h.st.Changes) > MaxZoneChanges {
		h.st = zoneState{}
		_ = os.Rename(path, path+".corrupt")
		return h, fmt.Errorf("zone history %s unreadable, set aside and started again: %v", path, err)
	}
	return h, nil
}

// Observe records the zone seen at a scan and fills the facts' change list.
func (h *ZoneHistory) Observe(t *pb.TimeFacts, now time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	zone, off := t.GetZone(), t.GetUtcOffsetSeconds()
	changed := h.st.Known && (zone != h.st.Zone || (zone == "" && off != h.st.Offset))
	var err error
	if changed || !h.st.Known || off != h.st.Offset {
		if changed {
			h.st.Changes = append(h.st.Changes, zoneChange{At: now.UTC(), FromZone: h.st.Zone, ToZone: zone, FromOffset: h.st.Offset, ToOffset: off})
			if n := len(h.st.Changes); n > MaxZoneChanges {
				h.st.Changes = append([]zoneChange(nil), h.st.Changes[n-MaxZoneChanges:]...)
			}
		}
		h.st.Zone, h.st.Offset, h.st.Known = zone, off, true
		b, _ := json.Marshal(h.st)
		err = atomicfile.Write(h.path, b, 0o600)
	}
	t.ZoneChanges = t.ZoneChanges[:0]
	for _, c := range h.st.Changes {
		t.ZoneChanges = append(t.ZoneChanges, &pb.ZoneChange{At: timestamppb.New(c.At), FromZone: clip(c.FromZone, maxField), ToZone: clip(c.ToZone, maxField),
			FromOffsetSeconds: c.FromOffset, ToOffsetSeconds: c.ToOffset})
	}
	return err
}
