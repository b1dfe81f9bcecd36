// Package detect turns platform facts into findings. Detectors register themselves by name in
// init (one file per detector, node_exporter style); Run executes the enabled ones
// concurrently, timing each and keeping "nothing found" apart from a real failure.
package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Detector finds one kind of evidence.
type Detector interface {
	// Detect returns the findings it sees in env. It must not modify env.
	Detect(ctx context.Context, env *Env) ([]*pb.Finding, error)
}

// Env is what detectors read: the facts of this scan and where the captured tree is.
type Env struct {
	// Root is the file-system root of the scan ("" or "/" for the live system).
	Root  string
	Facts *pb.Facts
	// Catalog is the signature set in force: the built-in one or a newer one the collector pushed.
	Catalog *catalog.Catalog
	Now     time.Time
	// Network is what the packet sniffer saw since the previous scan; nil when it is not
	// running (no privilege, or a captured tree).
	Network *netwatch.Analyzer
	// NetworkSince is when the window of Network observations starts.
	NetworkSince time.Time
}

// ErrNotApplicable is returned by a detector that has nothing to look at on this OS or tree;
// it is reported as ok, not as a failure.
var ErrNotApplicable = errors.New("not applicable")

// Factory builds a detector.
type Factory func(logger *slog.Logger) (Detector, error)

type registration struct {
	factory        Factory
	defaultEnabled bool
}

var (
	regMu    sync.Mutex
	registry = map[string]registration{}
)

// Register adds a detector factory under name. It panics on a duplicate name: that is a
// programming error caught by every test run.
func Register(name string, defaultEnabled bool, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("detect: duplicate detector " + name)
	}
	registry[name] = registration{factory: f, defaultEnabled: defaultEnabled}
}

// Names lists the registered detectors, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Set is an instantiated set of detectors.
type Set struct {
	names     []string
	detectors map[string]Detector
	log       *slog.Logger
}

// New instantiates the detectors enabled by default plus enable, minus disable.
func New(logger *slog.Logger, enable, disable []string) (*Set, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	on := map[string]bool{}
	regMu.Lock()
	for n, r := range registry {
		on[n] = r.defaultEnabled
	}
	regs := make(map[string]registration, len(registry))
	for n, r := range registry {
		regs[n] = r
	}
	regMu.Unlock()
	for _, n := range enable {
		if _, ok := regs[n]; !ok {
			return nil, fmt.Errorf("unknown detector %q", n)
		}
		on[n] = true
	}
	for _, n := range disable {
		if _, ok := regs[n]; !ok {
			return nil, fmt.Errorf("unknown detector %q", n)
		}
		on[n] = false
	}
	s := &Set{detectors: map[string]Detector{}, log: logger}
	for n, enabled := range on {
		if !enabled {
			continue
		}
		d, err := regs[n].factory(logger.With("detector", n))
		if err != nil {
			return nil, fmt.Errorf("detector %s: %w", n, err)
		}
		s.detectors[n] = d
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
	return s, nil
}

// Names lists the detectors in the set.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// Run executes every detector concurrently and returns all findings (sorted by signal, then
// key) with each detector's status. A failing or panicking detector never stops the others.
func (s *Set) Run(ctx context.Context, env *Env) ([]*pb.Finding, []*pb.DetectorStatus) {
	type result struct {
		findings []*pb.Finding
		status   *pb.DetectorStatus
	}
	results := make([]result, len(s.names))
	var wg sync.WaitGroup
	for i, name := range s.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			st := &pb.DetectorStatus{Name: name, Ok: true}
			var fs []*pb.Finding
			func() {
				defer func() {
					if r := recover(); r != nil {
						st.Ok, st.Error = false, fmt.Sprintf("panic: %v", r)
					}
				}()
				var err error
				fs, err = s.detectors[name].Detect(ctx, env)
				if err != nil && !errors.Is(err, ErrNotApplicable) {
					st.Ok, st.Error = false, err.Error()
				}
			}()
			st.DurationMicros = uint32(min(time.Since(start).Microseconds(), 1<<32-1))
			for _, f := range fs {
				if f.Detector == "" {
					f.Detector = name
				}
			}
			st.Findings = uint32(len(fs))
			if !st.Ok {
				s.log.Warn("detector failed", "detector", name, "err", st.Error)
			}
			results[i] = result{fs, st}
		}()
	}
	wg.Wait()
	var all []*pb.Finding
	statuses := make([]*pb.DetectorStatus, 0, len(results))
	for _, r := range results {
		all = append(all, r.findings...)
		statuses = append(statuses, r.status)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Signal != all[j].Signal {
			return all[i].Signal < all[j].Signal
		}
		return all[i].Key < all[j].Key
	})
	return all, statuses
}
