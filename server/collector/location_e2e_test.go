package collector_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/location"
	"github.com/farmwatch/farmwatch/server/store"
)

// A real agent reports; the HR import declares its employee on the other side of the world;
// the collector derives location.tz_mismatch itself and measures the connection's round trip.
func TestEndToEndLocationFindings(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	c.col.Settled()
	facts, _, err := c.st.Facts(ctx, a.rec.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	// Declare the employee where this machine's clock is certainly not: twelve hours away.
	zone := "Pacific/Kiritimati" // UTC+14
	if off := facts.GetTime().GetUtcOffsetSeconds(); off > 6*3600 {
		zone = "Pacific/Pago_Pago" // UTC-11
	}
	d, _ := c.st.Device(ctx, a.rec.DeviceID)
	csv := "employee_id,time_zone,device_hostname,languages\nE42," + zone + "," + d.Hostname + ",en\n"
	people, err := location.ParsePeopleCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.st.ReplacePeople(ctx, people, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := c.col.RefreshLocations(ctx); err != nil || n != 1 {
		t.Fatalf("refresh: %d %v", n, err)
	}
	fs, _ := c.st.Findings(ctx, a.rec.DeviceID)
	var got *store.Finding
	for i, f := range fs {
		if f.Signal == "location.tz_mismatch" && f.Key == "location.tz_mismatch|declared" {
			got = &fs[i]
		}
	}
	if got == nil || got.Source != "collector" || got.Evidence["declared_zone"] != zone || got.Evidence["employee"] != "E42" {
		t.Fatalf("declared mismatch not derived: %+v", fs)
	}
	// The next report keeps the collector's finding beside the agent's new ones.
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	c.col.Settled()
	fs, _ = c.st.Findings(ctx, a.rec.DeviceID)
	found := false
	for _, f := range fs {
		found = found || f.Signal == "location.tz_mismatch"
	}
	if !found {
		t.Fatalf("collector finding lost after a report: %+v", fs)
	}
	// Egress and round trip as the collector saw them (an unchanged address is written again
	// only after ObserveRefresh; round trips until they have enough samples).
	c.col.Settled()
	es, _ := c.st.Egresses(ctx, a.rec.DeviceID)
	if len(es) != 1 || es[0].Address != "127.0.0.1" || es[0].Seen < 1 {
		t.Fatalf("egress = %+v", es)
	}
	rtt, _ := c.st.RTT(context.Background(), a.rec.DeviceID)
	if runtime.GOOS == "linux" && (rtt.Samples < 2 || rtt.Min <= 0 || rtt.Min > 50*time.Millisecond) {
		t.Fatalf("loopback round trip = %+v", rtt)
	}
}
