package collector

import (
	"log/slog"
	"regexp"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

var pinnedRE = regexp.MustCompile(`^([0-9a-f]{64}(,[0-9a-f]{64}){0,3})?$`)

// Whatever a heartbeat carries, what reaches the store is a hex SHA-256 or nothing, a
// GOOS/GOARCH or nothing, valid UTF-8 of bounded length, and at most four fingerprints.
func FuzzHeartbeatHealth(f *testing.F) {
	seed, _ := proto.Marshal(&pb.HeartbeatRequest{AgentVersion: "1.0", AgentSha256: "ab", AgentPlatform: "linux/amd64", Evicted: 3,
		PinnedCaSha256: []string{"00", "zz"}})
	f.Add(seed)
	c := &Collector{log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := &pb.HeartbeatRequest{}
		if proto.Unmarshal(b, req) != nil {
			return
		}
		h := c.healthFromHeartbeat("d", req)
		if h.SHA256 != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h.SHA256) {
			t.Fatalf("sha %q", h.SHA256)
		}
		if h.Platform != "" && !platformRE.MatchString(h.Platform) {
			t.Fatalf("platform %q", h.Platform)
		}
		if !utf8.ValidString(h.Version) || len(h.Version) > 64+len("…") {
			t.Fatalf("version %q", h.Version)
		}
		if !pinnedRE.MatchString(h.PinnedCAs) {
			t.Fatalf("pinned %q", h.PinnedCAs)
		}
	})
}
