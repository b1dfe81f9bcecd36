package export

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Metrics is a small registry of counters and gauges with labels, served in the Prometheus
// text exposition format 0.0.4. Updating a series is a map lookup under a read lock and an
// atomic add; a scrape reads every series. The zero value is an empty registry.
//
// Registering a name twice with the same type and labels returns the same metric; a bad name,
// or a clash in type or labels, panics, as it is a programming error found at start-up.
type Metrics struct {
	mu   sync.Mutex
	fams map[string]*family
}

type family struct {
	name, help, typ string
	labels          []string

	mu     sync.RWMutex
	series map[string]*series // by label values joined with \xff

	fn      func() float64                                    // GaugeFunc
	collect func(emit func(v float64, labelValues ...string)) // computed at scrape time
}

type series struct {
	values []string
	bits   atomic.Uint64 // math.Float64bits of the value
}

// Counter is a monotonically increasing metric with labels.
type Counter struct{ f *family }

// Gauge is a metric with labels that goes up and down.
type Gauge struct{ f *family }

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Counter registers (or returns) a counter. By convention its name ends in _total.
func (m *Metrics) Counter(name, help string, labels ...string) *Counter {
	return &Counter{m.register(name, help, "counter", labels)}
}

// Gauge registers (or returns) a gauge.
func (m *Metrics) Gauge(name, help string, labels ...string) *Gauge {
	return &Gauge{m.register(name, help, "gauge", labels)}
}

// GaugeFunc registers a gauge without labels whose value fn returns at each scrape. fn is
// called without the registry locked and must be safe for concurrent use.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) {
	f := m.register(name, help, "gauge", nil)
	f.mu.Lock()
	f.fn = fn
	f.mu.Unlock()
}

// collect registers a family whose samples fn emits at each scrape.
func (m *Metrics) collect(name, help, typ string, labels []string, fn func(emit func(v float64, labelValues ...string))) {
	f := m.register(name, help, typ, labels)
	f.mu.Lock()
	f.collect = fn
	f.mu.Unlock()
}

func (m *Metrics) register(name, help, typ string, labels []string) *family {
	if !metricName.MatchString(name) {
		panic(fmt.Sprintf("export: metric name %q is not valid", name))
	}
	for _, l := range labels {
		if !labelName.MatchString(l) || strings.HasPrefix(l, "__") {
			panic(fmt.Sprintf("export: metric %s: label name %q is not valid", name, l))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fams == nil {
		m.fams = map[string]*family{}
	}
	if f, ok := m.fams[name]; ok {
		if f.typ != typ || !slices.Equal(f.labels, labels) || f.fn != nil || f.collect != nil {
			panic(fmt.Sprintf("export: metric %s registered twice, differently", name))
		}
		return f
	}
	f := &family{name: name, help: help, typ: typ, labels: slices.Clone(labels), series: map[string]*series{}}
	m.fams[name] = f
	return f
}

// get returns the series for labelValues, creating it on first use.
func (f *family) get(labelValues []string) *series {
	if len(labelValues) != len(f.labels) {
		panic(fmt.Sprintf("export: metric %s has labels %v, given %d values", f.name, f.labels, len(labelValues)))
	}
	key := strings.Join(labelValues, "\xff")
	f.mu.RLock()
	s := f.series[key]
	f.mu.RUnlock()
	if s != nil {
		return s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s = f.series[key]; s == nil {
		s = &series{values: slices.Clone(labelValues)}
		f.series[key] = s
	}
	return s
}

func (s *series) add(v float64) {
	for {
		old := s.bits.Load()
		if s.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Inc adds 1 to the series with these label values.
func (c *Counter) Inc(labelValues ...string) { c.Add(1, labelValues...) }

// Add adds v, which must not be negative, to the series with these label values.
func (c *Counter) Add(v float64, labelValues ...string) {
	if v < 0 {
		panic(fmt.Sprintf("export: counter %s: negative Add %v", c.f.name, v))
	}
	c.f.get(labelValues).add(v)
}

// Set sets the series with these label values to v.
func (g *Gauge) Set(v float64, labelValues ...string) {
	g.f.get(labelValues).bits.Store(math.Float64bits(v))
}

// Add adds v (possibly negative) to the series with these label values.
func (g *Gauge) Add(v float64, labelValues ...string) { g.f.get(labelValues).add(v) }

// Inc adds 1 to the series with these label values.
func (g *Gauge) Inc(labelValues ...string) { g.Add(1, labelValues...) }

// Dec subtracts 1 from the series with these label values.
func (g *Gauge) Dec(labelValues ...string) { g.Add(-1, labelValues...) }

// ContentType is the media type of the text exposition format Handler writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves every metric in the text exposition format 0.0.4: families sorted by name,
// each with its # HELP and # TYPE lines, series sorted by label values. Unlabelled counters
// and gauges show 0 before their first update; labelled ones show only the series used.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		w.Write(m.render())
	})
}

type sample struct {
	values []string
	v      float64
}

func (m *Metrics) render() []byte {
	m.mu.Lock()
	fams := make([]*family, 0, len(m.fams))
	for _, f := range m.fams {
		fams = append(fams, f)
	}
	m.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })

	var b bytes.Buffer
	for _, f := range fams {
		samples := f.samples()
		if len(samples) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		for _, s := range samples {
			b.WriteString(f.name)
			if len(f.labels) > 0 {
				b.WriteByte('{')
				for i, l := range f.labels {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(l)
					b.WriteString(`="`)
					b.WriteString(escapeLabelValue(s.values[i]))
					b.WriteByte('"')
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatValue(s.v))
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// samples reads the family's series, calling its function (if any) without locks held.
func (f *family) samples() []sample {
	f.mu.RLock()
	fn, collect := f.fn, f.collect
	var out []sample
	for _, s := range f.series {
		out = append(out, sample{s.values, math.Float64frombits(s.bits.Load())})
	}
	f.mu.RUnlock()
	switch {
	case fn != nil:
		return []sample{{nil, fn()}}
	case collect != nil:
		collect(func(v float64, labelValues ...string) {
			if len(labelValues) == len(f.labels) {
				out = append(out, sample{slices.Clone(labelValues), v})
			}
		})
	case len(out) == 0 && len(f.labels) == 0:
		out = []sample{{nil, 0}}
	}
	slices.SortFunc(out, func(a, b sample) int { return slices.Compare(a.values, b.values) })
	return out
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string { return helpEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }

func escapeLabelValue(s string) string {
	return labelEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// CounterFunc registers a counter family whose samples fn emits at each scrape (for totals
// kept elsewhere, such as atomic counters). fn must be safe for concurrent use.
func (m *Metrics) CounterFunc(name, help string, labels []string, fn func(emit func(v float64, labelValues ...string))) {
	m.collect(name, help, "counter", labels, fn)
}

// GaugeFuncs registers a gauge family whose samples fn emits at each scrape.
func (m *Metrics) GaugeFuncs(name, help string, labels []string, fn func(emit func(v float64, labelValues ...string))) {
	m.collect(name, help, "gauge", labels, fn)
}
