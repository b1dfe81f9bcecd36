package export

import (
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// expoSample is one sample line of the text exposition format.
type expoSample struct {
	name   string
	labels map[string]string
	value  float64
}

type expoFamily struct {
	help, typ string
	samples   []expoSample
}

// parseExposition parses text format 0.0.4 line by line, failing on anything the format does
// not allow: it is the check promtool would make, without promtool.
func parseExposition(t *testing.T, text string) (map[string]*expoFamily, []string) {
	t.Helper()
	fams := map[string]*expoFamily{}
	var order []string
	if text != "" && !strings.HasSuffix(text, "\n") {
		t.Fatal("exposition does not end with a newline")
	}
	cur := ""
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(f string, a ...any) { t.Fatalf("line %d %q: %s", n+1, line, fmt.Sprintf(f, a...)) }
		if line == "" {
			fail("empty line")
		}
		if strings.HasPrefix(line, "#") {
			parts := strings.SplitN(line, " ", 4)
			if len(parts) < 3 || (parts[1] != "HELP" && parts[1] != "TYPE") {
				fail("comment is neither HELP nor TYPE")
			}
			name := parts[2]
			if !metricName.MatchString(name) {
				fail("bad metric name")
			}
			f := fams[name]
			if f == nil {
				if slices.Contains(order, name) {
					fail("family %s split", name)
				}
				f = &expoFamily{}
				fams[name] = f
				order = append(order, name)
			}
			if name != cur && len(f.samples) > 0 {
				fail("HELP/TYPE after samples")
			}
			cur = name
			rest := ""
			if len(parts) == 4 {
				rest = parts[3]
			}
			if parts[1] == "HELP" {
				if f.help != "" {
					fail("second HELP")
				}
				h, err := unescape(rest, false)
				if err != nil {
					fail("%v", err)
				}
				f.help = h
			} else {
				if f.typ != "" {
					fail("second TYPE")
				}
				switch rest {
				case "counter", "gauge", "histogram", "summary", "untyped":
				default:
					fail("unknown type %q", rest)
				}
				f.typ = rest
			}
			continue
		}
		s := expoSample{labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			fail("no value")
		}
		s.name = line[:i]
		if !metricName.MatchString(s.name) {
			fail("bad metric name")
		}
		rest := line[i:]
		if rest[0] == '{' {
			rest = rest[1:]
			for rest[0] != '}' {
				eq := strings.IndexByte(rest, '=')
				if eq < 0 || rest[eq+1] != '"' {
					fail("label without =\"")
				}
				lname := rest[:eq]
				if !labelName.MatchString(lname) {
					fail("bad label name %q", lname)
				}
				rest = rest[eq+2:]
				var v strings.Builder
				j := 0
				for ; rest[j] != '"'; j++ {
					if rest[j] == '\\' {
						j++
						switch rest[j] {
						case '\\', '"':
							v.WriteByte(rest[j])
						case 'n':
							v.WriteByte('\n')
						default:
							fail("bad escape \\%c", rest[j])
						}
						continue
					}
					v.WriteByte(rest[j])
				}
				if _, dup := s.labels[lname]; dup {
					fail("label %s twice", lname)
				}
				s.labels[lname] = v.String()
				rest = rest[j+1:]
				if rest[0] == ',' {
					rest = rest[1:]
				}
			}
			rest = rest[1:]
		}
		fields := strings.Fields(rest)
		if len(fields) < 1 || len(fields) > 2 || !strings.HasPrefix(rest, " ") {
			fail("want ' value [timestamp]'")
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			fail("value: %v", err)
		}
		s.value = v
		f := fams[s.name]
		if f == nil || s.name != cur {
			fail("sample outside its family's block")
		}
		f.samples = append(f.samples, s)
	}
	for name, f := range fams {
		if f.typ == "" || len(f.samples) == 0 {
			t.Errorf("family %s: TYPE %q, %d samples", name, f.typ, len(f.samples))
		}
	}
	return fams, order
}

func unescape(s string, quotes bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch {
		case i < len(s) && s[i] == '\\':
			b.WriteByte('\\')
		case i < len(s) && s[i] == 'n':
			b.WriteByte('\n')
		case quotes && i < len(s) && s[i] == '"':
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("bad escape at %d in %q", i, s)
		}
	}
	return b.String(), nil
}

func TestMetricsExposition(t *testing.T) {
	var m Metrics
	req := m.Counter("farmwatch_requests_total", "Requests by path.\nSecond line with a \\ backslash.", "path", "code")
	req.Inc("/a", "200")
	req.Add(2.5, "/a", "200")
	req.Inc(`/b"\`+"\n", "500")
	req.Inc("/\xff", "200")
	g := m.Gauge("farmwatch_devices", "Devices by band.", "band")
	g.Set(7, "high")
	g.Set(3, "critical")
	g.Dec("critical")
	m.Gauge("farmwatch_unlabelled", "A gauge never set.")
	m.Counter("farmwatch_unused_total", "A labelled counter never used.", "x")
	m.GaugeFunc("farmwatch_uptime_seconds", "Seconds since start.", func() float64 { return 12.75 })
	m.Gauge("farmwatch_ratio", "Special values.", "k").Set(math.Inf(1), "inf")
	if again := m.Counter("farmwatch_requests_total", "ignored", "path", "code"); again.f != req.f {
		t.Error("re-registering returned a different counter")
	}

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	fams, order := parseExposition(t, string(body))

	if !slices.IsSorted(order) {
		t.Errorf("families not sorted: %v", order)
	}
	if _, ok := fams["farmwatch_unused_total"]; ok {
		t.Error("labelled family without series exposed")
	}
	r := fams["farmwatch_requests_total"]
	if r.typ != "counter" || r.help != "Requests by path.\nSecond line with a \\ backslash." {
		t.Errorf("requests TYPE %q HELP %q", r.typ, r.help)
	}
	want := []expoSample{
		{"farmwatch_requests_total", map[string]string{"path": "/a", "code": "200"}, 3.5},
		{"farmwatch_requests_total", map[string]string{"path": "/b\"\\\n", "code": "500"}, 1},
		{"farmwatch_requests_total", map[string]string{"path": "/\uFFFD", "code": "200"}, 1},
	}
	if fmt.Sprint(r.samples) != fmt.Sprint(want) {
		t.Errorf("requests samples\n%v\nwant\n%v", r.samples, want)
	}
	checks := map[string]float64{"farmwatch_unlabelled": 0, "farmwatch_uptime_seconds": 12.75}
	for name, v := range checks {
		if f := fams[name]; f == nil || f.typ != "gauge" || len(f.samples) != 1 || f.samples[0].value != v {
			t.Errorf("%s = %+v, want one gauge sample %v", name, f, v)
		}
	}
	d := fams["farmwatch_devices"].samples
	if len(d) != 2 || d[0].labels["band"] != "critical" || d[0].value != 2 || d[1].value != 7 {
		t.Errorf("devices samples %v, want critical 2 then high 7", d)
	}
	if v := fams["farmwatch_ratio"].samples[0].value; !math.IsInf(v, 1) {
		t.Errorf("ratio %v, want +Inf", v)
	}
	if !strings.Contains(string(body), `farmwatch_ratio{k="inf"} +Inf`+"\n") {
		t.Errorf("+Inf not written as +Inf:\n%s", body)
	}
}

func TestMetricsMisuse(t *testing.T) {
	var m Metrics
	c := m.Counter("ok_total", "h", "a")
	tests := map[string]func(){
		"bad metric name":       func() { m.Counter("1bad", "h") },
		"bad label name":        func() { m.Counter("x_total", "h", "bad-label") },
		"reserved label name":   func() { m.Counter("y_total", "h", "__name") },
		"type clash":            func() { m.Gauge("ok_total", "h", "a") },
		"label clash":           func() { m.Counter("ok_total", "h", "b") },
		"too few label values":  func() { c.Inc() },
		"too many label values": func() { c.Inc("1", "2") },
		"negative counter add":  func() { c.Add(-1, "1") },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestExporterMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.jsonl")
	e := newExporter(t, Config{JSONLPath: path, QueueSize: 1})
	var m Metrics
	e.RegisterMetrics(&m)
	for i := range 3 {
		e.Publish(bandEvent(fmt.Sprint(i), "h", "low", "high", 1))
	}
	closeExporter(t, e)
	fams, _ := parseExposition(t, string(m.render()))
	st := e.Stats()["jsonl:"+path]
	got := map[string]float64{}
	for _, s := range fams["farmwatch_export_events_total"].samples {
		if s.labels["sink"] != "jsonl:"+path {
			t.Errorf("sink label %q", s.labels["sink"])
		}
		got[s.labels["result"]] = s.value
	}
	if got["sent"] != float64(st.Sent) || got["dropped"] != float64(st.Dropped) || got["failed"] != 0 || st.Sent+st.Dropped != 3 {
		t.Errorf("metrics %v, stats %+v", got, st)
	}
	if q := fams["farmwatch_export_queued_events"]; q.typ != "gauge" || q.samples[0].value != 0 {
		t.Errorf("queued %+v", q)
	}
}
