package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Families are the signal families a device may say it exercises (design.md §4).
var Families = []string{"remote_tool", "os_remote", "kvm", "hid", "relay", "overlay", "location", "fleet"}

// Labels a device may carry.
const (
	LabelFarm   = "farm"
	LabelBenign = "benign"
)

// FleetFile is one scenario file: a fleet and its labelled devices (docs/scenarios.md).
type FleetFile struct {
	Fleet       string `json:"fleet"`
	Description string `json:"description"`
	// Observed is when the fleet's snapshot was taken; the evaluator shifts every time in the
	// fleet (and in its recorded reports) by now - Observed, so ages are kept.
	Observed string `json:"observed"`
	// Places says what geolocation says of addresses other than the egress ones (remote
	// peers), by address.
	Places  map[string]Place `json:"places,omitempty"`
	Devices []DeviceSpec     `json:"devices"`
}

// Place is a geolocation answer.
type Place struct {
	Country string `json:"country,omitempty"`
	ASN     uint32 `json:"asn,omitempty"`
	ASOrg   string `json:"as_org,omitempty"`
	Class   string `json:"class,omitempty"`
}

// DeviceSpec is one labelled device.
type DeviceSpec struct {
	ID       string   `json:"id"`
	Hostname string   `json:"hostname"`
	Label    string   `json:"label"`
	Families []string `json:"families"`
	Case     string   `json:"case"`
	Group    string   `json:"group,omitempty"`
	// Recorded are agent reports (protojson pb.Report), relative to the fleet file; their
	// findings are merged and the first one with facts gives the facts.
	Recorded []string `json:"recorded,omitempty"`
	// Egress are the addresses the collector saw the device connect from.
	Egress []EgressSpec `json:"egress,omitempty"`
	// Person is the device's HR row; nil for none.
	Person *PersonSpec `json:"person,omitempty"`
	// Facts (protojson pb.Facts) are merged into the recorded facts (repeated fields append):
	// what the agent cannot read from a captured tree, such as Wi-Fi.
	Facts json.RawMessage `json:"facts,omitempty"`
	// Findings are typed by hand, where no real source exists.
	Findings []TypedFinding `json:"findings,omitempty"`
}

// EgressSpec is one egress address with its times and what geolocation says of it.
type EgressSpec struct {
	Address   string `json:"address"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	Place
}

// PersonSpec is the HR row of a device's employee.
type PersonSpec struct {
	Country    string   `json:"country,omitempty"`
	TimeZone   string   `json:"time_zone,omitempty"`
	Languages  []string `json:"languages,omitempty"`
	NightShift bool     `json:"night_shift,omitempty"`
}

// TypedFinding is a finding typed by hand; Typed must be true and Why say why no real source
// gives it.
type TypedFinding struct {
	Typed      bool              `json:"typed"`
	Why        string            `json:"why"`
	Signal     string            `json:"signal"`
	Key        string            `json:"key"`
	Severity   string            `json:"severity"`
	Confidence float64           `json:"confidence"`
	Title      string            `json:"title"`
	Evidence   map[string]string `json:"evidence,omitempty"`
}

// fleet is a loaded, validated fleet file.
type fleetData struct {
	FleetFile
	path     string
	observed time.Time
	devices  []*device
}

type device struct {
	spec     DeviceSpec
	line     int // of the device's id in its file
	facts    *pb.Facts
	findings []*pb.Finding // recorded and typed, times as recorded
	typed    map[*pb.Finding]bool
	egress   []egress
	created  time.Time // newest recorded report
}

type egress struct {
	addr        netip.Addr
	first, last time.Time
	place       Place
}

// loadFleets reads every *.json file directly in dir as a fleet file.
func loadFleets(dir string) ([]*fleetData, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no fleet files (*.json)", dir)
	}
	slices.Sort(paths)
	var out []*fleetData
	var errs []error
	ids := map[string]string{}
	for _, p := range paths {
		f, err := loadFleet(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range f.devices {
			if prev, dup := ids[d.spec.ID]; dup {
				errs = append(errs, fmt.Errorf("%s:%d: device id %q already used in %s", p, d.line, d.spec.ID, prev))
			}
			ids[d.spec.ID] = fmt.Sprintf("%s:%d", p, d.line)
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

func loadFleet(path string) (*fleetData, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	f := &fleetData{path: path}
	if err := dec.Decode(&f.FleetFile); err != nil {
		return nil, decodeError(path, data, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s:%d: data after the fleet object", path, line(data, int(dec.InputOffset())))
	}
	var errs []error
	bad := func(at int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", path, at, fmt.Sprintf(format, args...)))
	}
	if f.Fleet == "" {
		bad(1, "fleet: name missing")
	}
	if f.observed, err = time.Parse(time.RFC3339, f.Observed); err != nil {
		bad(find(data, 0, `"observed"`), "observed: %q is not an RFC 3339 time", f.Observed)
	}
	if len(f.Devices) == 0 {
		bad(1, "no devices")
	}
	for addr := range f.Places {
		if _, err := netip.ParseAddr(addr); err != nil {
			bad(find(data, 0, `"`+addr+`"`), "places: %q is not an IP address", addr)
		}
	}
	from := 0
	for i := range f.Devices {
		s := f.Devices[i]
		at := find(data, from, `"id": "`+s.ID+`"`)
		if off := bytes.Index(data[from:], []byte(`"id": "`+s.ID+`"`)); off >= 0 {
			from += off + 1
		}
		d := &device{spec: s, line: at, typed: map[*pb.Finding]bool{}}
		field := func(needle string) int {
			if l := find(data, offsetOfLine(data, at), needle); l > 0 {
				return l
			}
			return at
		}
		if s.ID == "" {
			bad(at, "device %d: id missing", i+1)
		}
		if s.Label != LabelFarm && s.Label != LabelBenign {
			bad(field(`"label"`), "device %s: label %q is neither %q nor %q", s.ID, s.Label, LabelFarm, LabelBenign)
		}
		if s.Case == "" {
			bad(at, "device %s: case missing (say what the device stands for)", s.ID)
		}
		for _, fam := range s.Families {
			if !slices.Contains(Families, fam) {
				bad(field(`"`+fam+`"`), "device %s: unknown family %q (known: %s)", s.ID, fam, strings.Join(Families, ", "))
			}
		}
		if len(s.Recorded) == 0 && len(s.Findings) == 0 && len(s.Egress) == 0 {
			bad(at, "device %s: no recorded report, finding or egress: nothing to evaluate", s.ID)
		}
		for _, r := range s.Recorded {
			rep, err := loadReport(filepath.Join(filepath.Dir(path), filepath.FromSlash(r)))
			if err != nil {
				bad(field(`"`+r+`"`), "device %s: recorded %s: %v", s.ID, r, err)
				continue
			}
			if d.facts == nil && rep.GetFacts() != nil {
				d.facts = rep.GetFacts()
			}
			if c := rep.GetCreated().AsTime(); c.After(d.created) {
				d.created = c
			}
			d.findings = append(d.findings, rep.GetFindings()...)
		}
		if d.facts == nil {
			d.facts = &pb.Facts{}
		}
		if len(s.Facts) > 0 {
			extra := &pb.Facts{}
			if err := protojson.Unmarshal(s.Facts, extra); err != nil {
				bad(field(`"facts"`), "device %s: facts: %v", s.ID, err)
			} else {
				MergeFacts(d.facts, extra)
			}
		}
		for j, e := range s.Egress {
			eg := egress{place: e.Place}
			var err1, err2, err3 error
			eg.addr, err1 = netip.ParseAddr(e.Address)
			eg.first, err2 = time.Parse(time.RFC3339, e.FirstSeen)
			eg.last, err3 = time.Parse(time.RFC3339, e.LastSeen)
			if err := errors.Join(err1, err2, err3); err != nil {
				bad(field(`"`+e.Address+`"`), "device %s: egress %d: %v", s.ID, j+1, err)
				continue
			}
			if eg.last.Before(eg.first) {
				bad(field(`"`+e.Address+`"`), "device %s: egress %s: last_seen before first_seen", s.ID, e.Address)
			}
			d.egress = append(d.egress, eg)
		}
		for j, t := range s.Findings {
			fat := field(`"signal": "` + t.Signal + `"`)
			if !t.Typed || strings.TrimSpace(t.Why) == "" {
				bad(fat, "device %s: finding %d: typed findings need \"typed\": true and a \"why\" (no real source exists)", s.ID, j+1)
				continue
			}
			sev, ok := pb.Severity_value["SEVERITY_"+strings.ToUpper(t.Severity)]
			if !ok || t.Signal == "" || t.Key == "" || t.Title == "" || t.Confidence < 0 || t.Confidence > 1 {
				bad(fat, "device %s: finding %d: needs signal, key, title, a severity (info..critical) and a confidence in 0..1", s.ID, j+1)
				continue
			}
			pf := &pb.Finding{Signal: t.Signal, Key: t.Key, Severity: pb.Severity(sev), Confidence: t.Confidence, Title: t.Title,
				Evidence: t.Evidence, Detector: "scenario/typed"}
			d.typed[pf] = true
			d.findings = append(d.findings, pf)
		}
		f.devices = append(f.devices, d)
	}
	return f, errors.Join(errs...)
}

func loadReport(path string) (*pb.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rep := &pb.Report{}
	if err := protojson.Unmarshal(data, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// MergeFacts adds extra's Wi-Fi, gateways, neighbours, displays, input sources and interfaces
// to f, and takes its time facts and activity when set: how a scenario device's hand-written
// facts complete its recorded ones.
func MergeFacts(f, extra *pb.Facts) {
	if l := extra.GetLan(); l != nil {
		if f.Lan == nil {
			f.Lan = &pb.Lan{}
		}
		f.Lan.Gateways = append(f.Lan.Gateways, l.GetGateways()...)
		f.Lan.Neighbours = append(f.Lan.Neighbours, l.GetNeighbours()...)
		f.Lan.Wifi = append(f.Lan.Wifi, l.GetWifi()...)
	}
	f.Displays = append(f.Displays, extra.GetDisplays()...)
	f.InputSources = append(f.InputSources, extra.GetInputSources()...)
	f.Interfaces = append(f.Interfaces, extra.GetInterfaces()...)
	if extra.Time != nil {
		f.Time = extra.Time
	}
	if extra.Activity != nil {
		f.Activity = extra.Activity
	}
}

// decodeError places a decoding error on its line.
func decodeError(path string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s:%d: %v", path, line(data, int(se.Offset)), err)
	case errors.As(err, &te):
		return fmt.Errorf("%s:%d: %s: %v", path, line(data, int(te.Offset)), te.Field, err)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("%s:%d: unknown key %s", path, find(data, 0, name+":"), name)
	}
	return fmt.Errorf("%s: %v", path, err)
}

// line returns the 1-based line of a byte offset.
func line(data []byte, off int) int {
	off = min(max(off, 0), len(data))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// find returns the line of the first occurrence of needle at or after byte from (1 if none).
func find(data []byte, from int, needle string) int {
	from = min(max(from, 0), len(data))
	i := bytes.Index(data[from:], []byte(needle))
	if i < 0 {
		return line(data, from)
	}
	return line(data, from+i)
}

// offsetOfLine returns the byte offset where line n starts.
func offsetOfLine(data []byte, n int) int {
	off := 0
	for l := 1; l < n && off < len(data); l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return len(data)
		}
		off += i + 1
	}
	return off
}
