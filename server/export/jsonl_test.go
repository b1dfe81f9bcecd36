package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// readJSONL decodes every line of path, failing on any that is not one whole event.
func readJSONL(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s line %d: %v: %q", path, len(out)+1, err, sc.Text())
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJSONLWritesOneEventPerLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	e := newExporter(t, Config{JSONLPath: path})
	band := bandEvent("j1", hostile+"\xff", "", "medium", 40)
	cluster := Event{Kind: KindNewCluster, ID: "j2", At: band.At, Cluster: &ClusterInfo{ID: "c", Members: []string{"a", "b"}, Kinds: []string{"wifi"}}}
	e.Publish(band)
	e.Publish(cluster)
	closeExporter(t, e)

	got := readJSONL(t, path)
	if len(got) != 2 {
		t.Fatalf("%d lines, want 2", len(got))
	}
	if g := got[0]; g.ID != "j1" || g.Kind != KindBandChange || g.From != "" || g.To != "medium" || g.Score != 40 ||
		g.Hostname != "bad\"]host\x00<script>\uFFFD" || !g.At.Equal(band.At) {
		t.Errorf("line 1 = %+v", g)
	}
	if g := got[1]; g.ID != "j2" || g.Cluster == nil || g.Cluster.ID != "c" || len(g.Cluster.Members) != 2 || g.DeviceID != "" {
		t.Errorf("line 2 = %+v", g)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", st.Mode().Perm())
		}
	}
	if st := onlyStats(t, e); st != (SinkStats{Sent: 2}) {
		t.Errorf("stats = %+v", st)
	}
}

func TestJSONLAppendsToExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	for i := range 2 {
		e := newExporter(t, Config{JSONLPath: path})
		e.Publish(bandEvent(fmt.Sprint("a", i), "h", "low", "high", 70))
		closeExporter(t, e)
	}
	if got := readJSONL(t, path); len(got) != 2 || got[0].ID != "a0" || got[1].ID != "a1" {
		t.Errorf("got %+v, want a0 then a1", got)
	}
}

func TestJSONLRotatesAtMaxBytes(t *testing.T) {
	line, err := json.Marshal(bandEvent("r0", "h", "low", "high", 70))
	if err != nil {
		t.Fatal(err)
	}
	lineLen := int64(len(line) + 1) // every test event has a two-character id, so the same length
	path := filepath.Join(t.TempDir(), "events.jsonl")
	e := newExporter(t, Config{JSONLPath: path, JSONLMaxBytes: 3 * lineLen})
	for i := range 5 {
		e.Publish(bandEvent(fmt.Sprint("r", i), "h", "low", "high", 70))
	}
	closeExporter(t, e)

	old, cur := readJSONL(t, path+".1"), readJSONL(t, path)
	ids := func(evs []Event) (s []string) {
		for _, ev := range evs {
			s = append(s, ev.ID)
		}
		return s
	}
	if fmt.Sprint(ids(old)) != "[r0 r1 r2]" || fmt.Sprint(ids(cur)) != "[r3 r4]" {
		t.Errorf("%s.1 holds %v and %s holds %v, want [r0 r1 r2] and [r3 r4]", path, ids(old), path, ids(cur))
	}
	for _, p := range []string{path, path + ".1"} {
		if st, err := os.Stat(p); err != nil || st.Size() > 3*lineLen {
			t.Errorf("%s: %v bytes (err %v), want at most %d", p, st.Size(), err, 3*lineLen)
		}
	}
	if st := onlyStats(t, e); st != (SinkStats{Sent: 5}) {
		t.Errorf("stats = %+v", st)
	}
}
