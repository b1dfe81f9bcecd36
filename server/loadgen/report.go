package loadgen

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// WriteText writes the result for people. Its last line is exactly "N reports/s": the
// acknowledged throughput over the measured window, rounded to an integer.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("devices            %d (%d enrolled now at %.0f/s in %.1fs, %d from the state cache, %d failed to enroll)",
		r.Devices, r.Enrolled, r.EnrollPerSec, r.EnrollSeconds, r.Cached, r.EnrollFailures)
	mode := fmt.Sprintf("%s, %d workers", r.Mode, r.Concurrency)
	if r.TargetRate > 0 {
		mode = fmt.Sprintf("%s at %.0f reports/s, at most %d in flight", r.Mode, r.TargetRate, r.Concurrency)
	}
	p("load               %s; %.1fs warm-up, %.1fs measured; connections at most %d", mode, r.Warmup, r.Window, r.MaxConns)
	p("report size        %d bytes on average (protobuf)", r.ReportBytes)
	p("acknowledged       %d reports (%d in the window), %d duplicates", r.Acked, r.AckedWindow, r.Duplicates)
	p("offered            %.0f uploads/s started%s", r.OfferedPerSec, skipped(r))
	p("back-pressure      %d RESOURCE_EXHAUSTED refusals (retried after RetryInfo)", r.BackPressure)
	p("errors             %s", errorsText(r.Errors))
	p("latency            p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (acknowledged uploads in the window)", r.LatencyP50, r.LatencyP90, r.LatencyP99, r.LatencyMax)
	p("  with retries     p50 %.1f ms, p99 %.1f ms (first attempt to acknowledgement, back-pressure waits included)", r.E2EP50, r.E2EP99)
	p("heartbeats         %d answered, %.1f/s in the window", r.Heartbeats, r.HeartbeatsSec)
	if r.StreamsAsked > 0 {
		p("push streams       %d asked for, %d refused past the collector's cap (asked again after its hint), %d pushes received", r.StreamsAsked, r.StreamsRefused, r.Pushes)
	}
	p("connections        %d opened (%d closed by churn, %d by the connection limit), %d cached devices resynced", r.Connections, r.ChurnCloses, r.LimitCloses, r.Resyncs)
	if r.LoadgenCPUSecs > 0 {
		p("load generator     %.1f s CPU", r.LoadgenCPUSecs)
	}
	if c := r.Collector; c != nil {
		p("collector          peak RSS %.0f MiB (VmHWM), CPU %.1f s in all, %.1f s in the window (%.2f cores)", c.PeakRSSMiB, c.CPUSeconds, c.CPUSecondsWindow, c.CoresWindow)
		if c.DBBytes > 0 {
			p("collector store    %.1f MiB (farmwatch.db and its WAL)", float64(c.DBBytes)/(1<<20))
		}
		if c.Version != "" || c.ServerArgs != "" {
			p("collector command  farmwatch-server %s (%s)", c.ServerArgs, c.Version)
		}
	}
	p("throughput         %.1f acknowledged reports/s", r.Throughput)
	p("%d reports/s", int64(math.Round(r.Throughput)))
	_, err := io.WriteString(w, b.String())
	return err
}

func skipped(r *Result) string {
	if r.Skipped == 0 {
		return ""
	}
	return fmt.Sprintf("; %d scheduled uploads skipped (every device busy or %d in flight): the target rate was not offered", r.Skipped, r.Concurrency)
}

func errorsText(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
