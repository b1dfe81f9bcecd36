// Command gen records the scenario suite's agent reports: it builds captured Linux trees of
// the suite's laptops in a temporary directory, runs the real scanner on each (as
// `farmwatch-agent scan --root DIR --json` does) and the real pcap analyzer on the agent's
// recorded pcaps (as `farmwatch-agent sniff --pcap FILE --json`), and writes each report as
// JSON under -out. With -fleets it also writes the fleet files that label those reports.
//
//	go run ./server/eval/gen -out server/eval/testdata/scenarios/recorded -fleets server/eval/testdata/scenarios
//
// Output is deterministic: every timestamp is the suite's epoch, so regenerating changes
// nothing unless the agent's detectors or the device specs changed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/activity"
	"github.com/farmwatch/farmwatch/agent/detect"
	_ "github.com/farmwatch/farmwatch/agent/detectors"
	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/agent/sniffer"
	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/platform/idle"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// epoch is when every recorded report was "taken"; the evaluator shifts the suite to its own
// clock, keeping ages.
var epoch = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for the recorded reports (required)")
	fleets := fs.String("fleets", "", "also write the fleet files here")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "gen: -out is required")
		return 2
	}
	if err := generate(context.Background(), *out, *fleets, stdout); err != nil {
		fmt.Fprintln(stderr, "gen:", err)
		return 1
	}
	return 0
}

func generate(ctx context.Context, out, fleetDir string, stdout io.Writer) error {
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	all := suite()
	n := 0
	for _, fl := range all {
		for _, d := range fl.devices {
			if d.machine == nil {
				continue
			}
			rep, err := scanMachine(ctx, *d.machine, d.activity, repo)
			if err != nil {
				return fmt.Errorf("%s: %w", d.id, err)
			}
			if err := writeReport(filepath.Join(out, d.id+".json"), rep); err != nil {
				return err
			}
			n++
		}
	}
	for _, p := range pcaps() {
		rep, err := sniffPcap(ctx, filepath.Join(repo, "agent", "packet", "testdata", p))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := writeReport(filepath.Join(out, "pcap-"+strings.TrimSuffix(p, ".pcap")+".json"), rep); err != nil {
			return err
		}
		n++
	}
	fmt.Fprintf(stdout, "gen: %d reports in %s\n", n, out)
	if fleetDir != "" {
		for _, fl := range all {
			if err := writeFleet(filepath.Join(fleetDir, fl.file), fl); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "gen: %d fleet files in %s\n", len(all), fleetDir)
	}
	return nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run gen inside the repository (no go.mod found)")
		}
		dir = parent
	}
}

// scanMachine builds m's tree and runs the real scanner over it.
func scanMachine(ctx context.Context, m machine, sched *schedule, repo string) (*pb.Report, error) {
	root, err := os.MkdirTemp("", "farmwatch-scenario-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	if err := m.build(root, repo); err != nil {
		return nil, err
	}
	now := time.Now()
	for _, p := range m.recent {
		if err := os.Chtimes(filepath.Join(root, p), now, now); err != nil {
			return nil, err
		}
	}
	dets, err := detect.New(nil, nil, nil)
	if err != nil {
		return nil, err
	}
	s := &scan.Scanner{Root: root, Detectors: dets, AgentVersion: "scenario-gen"}
	if sched != nil {
		act, err := sched.profile(root)
		if err != nil {
			return nil, err
		}
		s.Activity = func() *pb.Activity { return act }
	}
	rep, err := s.Scan(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range rep.GetDetectors() {
		if !d.GetOk() && !strings.HasPrefix(d.GetName(), "facts.") {
			return nil, fmt.Errorf("detector %s failed: %s", d.GetName(), d.GetError())
		}
	}
	return trim(rep, root), nil
}

// sniffPcap runs the relay analysis on a capture, as `farmwatch-agent sniff --pcap` does.
func sniffPcap(ctx context.Context, path string) (*pb.Report, error) {
	cat, err := catalog.Default()
	if err != nil {
		return nil, err
	}
	an := netwatch.New(cat)
	if _, _, err := sniffer.ReadPcap(path, an); err != nil {
		return nil, err
	}
	var others []string
	for _, n := range detect.Names() {
		if n != "relay" {
			others = append(others, n)
		}
	}
	dets, err := detect.New(nil, nil, others)
	if err != nil {
		return nil, err
	}
	findings, _ := dets.Run(ctx, &detect.Env{Facts: &pb.Facts{}, Catalog: cat, Now: time.Now(), Network: an})
	if len(findings) == 0 {
		return nil, errors.New("no relay findings")
	}
	return trim(&pb.Report{AgentVersion: "scenario-gen", CatalogVersion: cat.Version, Findings: findings}, ""), nil
}

// trim keeps what the collector's scoring, location analysis and fleet correlation read, and
// pins every timestamp to the epoch so that the output is stable.
func trim(rep *pb.Report, root string) *pb.Report {
	f := rep.GetFacts()
	out := &pb.Report{
		Created:        timestamppb.New(epoch),
		AgentVersion:   rep.GetAgentVersion(),
		CatalogVersion: rep.GetCatalogVersion(),
		Findings:       rep.GetFindings(),
	}
	if f != nil {
		out.Facts = &pb.Facts{
			Host: f.GetHost(), Time: f.GetTime(), Interfaces: f.GetInterfaces(), Lan: f.GetLan(),
			Displays: f.GetDisplays(), InputSources: f.GetInputSources(), Activity: f.GetActivity(), RdpClients: f.GetRdpClients(),
		}
	}
	for _, x := range out.Findings {
		x.FirstSeen, x.LastSeen = timestamppb.New(epoch), timestamppb.New(epoch)
		if _, ok := x.GetEvidence()["modified"]; ok { // a log's mtime, set to the scan's time
			x.Evidence["modified"] = epoch.Format(time.RFC3339)
		}
	}
	if root != "" {
		out = scrub(out, root)
	}
	return out
}

// scrub removes the temporary root from every string (paths in evidence and facts).
func scrub(rep *pb.Report, root string) *pb.Report {
	b, err := protojson.Marshal(rep)
	if err != nil {
		panic(err)
	}
	b = bytes.ReplaceAll(b, []byte(root), nil)
	clean := &pb.Report{}
	if err := protojson.Unmarshal(b, clean); err != nil {
		panic(err)
	}
	return clean
}

func writeReport(path string, rep *pb.Report) error {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(proto.Message(rep))
	if err != nil {
		return err
	}
	var v any // re-indent through encoding/json: protojson's spacing is deliberately unstable
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return writeJSON(path, v)
}

func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// schedule is when a person uses the laptop: from..to local hours on weekdays (to < from
// wraps past midnight), for days days ending at the epoch.
type schedule struct {
	zone     string
	from, to int
	days     int
}

// profile drives the agent's real activity sampler with a simulated clock and idle timer.
func (s schedule) profile(dir string) (*pb.Activity, error) {
	loc, err := time.LoadLocation(s.zone)
	if err != nil {
		return nil, err
	}
	clock := epoch.Add(-time.Duration(s.days) * 24 * time.Hour)
	smp, err := activity.Open(filepath.Join(dir, "activity.json"), func() time.Time { return clock })
	if err != nil {
		return nil, err
	}
	smp.FlushEvery = 1000 * time.Hour
	active := func(t time.Time) bool {
		l := t.In(loc)
		h := l.Hour()
		in := h >= s.from && h < s.to
		if s.to < s.from {
			in = h >= s.from || h < s.to
		}
		// The weekend is the local day the shift started on.
		start := l
		if s.to < s.from && h < s.to {
			start = l.Add(-24 * time.Hour)
		}
		wd := start.Weekday()
		return in && wd != time.Saturday && wd != time.Sunday
	}
	var lastActive time.Time = clock.Add(-24 * time.Hour)
	read := func(context.Context) (idle.Reading, error) {
		if active(clock) {
			lastActive = clock.Add(-20 * time.Second)
		}
		return idle.Reading{Idle: clock.Sub(lastActive), Source: "x11-screensaver", Sessions: 1}, nil
	}
	for clock.Before(epoch) {
		if err := smp.Sample(context.Background(), read); err != nil {
			return nil, err
		}
		clock = clock.Add(activity.DefaultInterval)
	}
	return smp.Facts(), nil
}
