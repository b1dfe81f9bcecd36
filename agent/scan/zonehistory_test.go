package scan

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestZoneHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zones.json")
	h, err := OpenZoneHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		zone string
		off  int32
		want int
	}{
		{"America/New_York", -4 * 3600, 0},
		{"America/New_York", -5 * 3600, 0}, // DST ended: not a change
		{"Asia/Seoul", 9 * 3600, 1},
		{"Asia/Seoul", 9 * 3600, 1},
		{"America/New_York", -5 * 3600, 2},
	}
	for i, s := range steps {
		tf := &pb.TimeFacts{Zone: s.zone, UtcOffsetSeconds: s.off}
		if err := h.Observe(tf, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if len(tf.ZoneChanges) != s.want {
			t.Fatalf("step %d: %d changes, want %d", i, len(tf.ZoneChanges), s.want)
		}
	}
	// A restarted agent remembers.
	h, err = OpenZoneHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	tf := &pb.TimeFacts{Zone: "America/New_York", UtcOffsetSeconds: -5 * 3600}
	h.Observe(tf, t0.Add(10*time.Hour))
	if len(tf.ZoneChanges) != 2 || tf.ZoneChanges[0].GetToZone() != "Asia/Seoul" || tf.ZoneChanges[0].GetFromOffsetSeconds() != -5*3600 ||
		!tf.ZoneChanges[1].GetAt().AsTime().Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("after restart: %v", tf.ZoneChanges)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// Bounded.
	for i := 0; i < 3*MaxZoneChanges; i++ {
		z := "Asia/Seoul"
		if i%2 == 0 {
			z = "Europe/Paris"
		}
		tf = &pb.TimeFacts{Zone: z}
		h.Observe(tf, t0.Add(time.Duration(20+i)*time.Hour))
	}
	if len(tf.ZoneChanges) != MaxZoneChanges {
		t.Fatalf("%d changes kept", len(tf.ZoneChanges))
	}
	// A corrupt file is set aside, not fatal.
	os.WriteFile(path, []byte("{not json"), 0o600)
	h, err = OpenZoneHistory(path)
	if err == nil || h == nil {
		t.Fatalf("corrupt: %v", err)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Fatal("corrupt file not set aside")
	}
}
