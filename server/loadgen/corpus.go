// Package loadgen drives a collector with simulated agents: each simulated device enrolls
// through the real EnrollmentService with its own P-256 key and hardware identity, then
// uploads realistic reports (the recorded facts and findings of the labelled scenario suite)
// and heartbeats over its own mutually authenticated gRPC connection, at a fixed rate (open
// loop) or as fast as a number of workers allows (closed loop). It measures acknowledged
// throughput, latency percentiles, back-pressure refusals and errors by gRPC code.
package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/eval"
)

// Sample is one scenario device turned into what an agent on it would send: a report
// template (sequence and creation time are set per upload) and the host identity it reports.
type Sample struct {
	Name   string // fleet/device id in the scenario suite
	Report *pb.Report
}

// LoadCorpus reads the scenario suite in dir (fleet files *.json and the recorded protojson
// reports they name, docs/scenarios.md) into one report template per scenario device, sorted
// by fleet file and device order. It decodes the suite the way server/eval does: the first
// recorded report with facts gives the facts, the device's "facts" are merged in, findings of
// every recorded report and the hand-typed findings are kept. Typed location.* and fleet.*
// findings are left out: the collector derives those, an agent never sends them. Times are
// moved so that the fleet's "observed" moment is now (findings' first and last seen, activity
// days), as the evaluator does.
func LoadCorpus(dir string, now time.Time) ([]Sample, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no scenario fleet files (*.json)", dir)
	}
	slices.Sort(paths)
	var out []Sample
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var ff eval.FleetFile
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ff); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		observed, err := time.Parse(time.RFC3339, ff.Observed)
		if err != nil {
			return nil, fmt.Errorf("%s: observed: %w", p, err)
		}
		shift := now.Sub(observed)
		days := int64(shift.Round(24*time.Hour) / (24 * time.Hour))
		for _, d := range ff.Devices {
			s, err := sample(filepath.Dir(p), ff.Fleet, d, shift, days)
			if err != nil {
				return nil, fmt.Errorf("%s: device %s: %w", p, d.ID, err)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func sample(dir, fleetName string, d eval.DeviceSpec, shift time.Duration, days int64) (Sample, error) {
	rep := &pb.Report{}
	for _, r := range d.Recorded {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(r)))
		if err != nil {
			return Sample{}, err
		}
		rec := &pb.Report{}
		if err := protojson.Unmarshal(data, rec); err != nil {
			return Sample{}, fmt.Errorf("recorded %s: %w", r, err)
		}
		if rep.Facts == nil && rec.GetFacts() != nil {
			rep.Facts = rec.GetFacts()
		}
		if rep.CatalogVersion == "" {
			rep.CatalogVersion = rec.GetCatalogVersion()
		}
		if len(rep.Detectors) == 0 {
			rep.Detectors = rec.GetDetectors()
		}
		rep.ScanDurationMicros = max(rep.ScanDurationMicros, rec.GetScanDurationMicros())
		rep.Findings = append(rep.Findings, rec.GetFindings()...)
	}
	if rep.Facts == nil {
		rep.Facts = &pb.Facts{}
	}
	if len(d.Facts) > 0 {
		extra := &pb.Facts{}
		if err := protojson.Unmarshal(d.Facts, extra); err != nil {
			return Sample{}, fmt.Errorf("facts: %w", err)
		}
		eval.MergeFacts(rep.Facts, extra)
	}
	for _, t := range d.Findings {
		if strings.HasPrefix(t.Signal, "location.") || strings.HasPrefix(t.Signal, "fleet.") {
			continue
		}
		sev, ok := pb.Severity_value["SEVERITY_"+strings.ToUpper(t.Severity)]
		if !ok {
			return Sample{}, fmt.Errorf("finding %s: severity %q", t.Signal, t.Severity)
		}
		rep.Findings = append(rep.Findings, &pb.Finding{Signal: t.Signal, Key: t.Key, Severity: pb.Severity(sev), Confidence: t.Confidence,
			Title: t.Title, Evidence: t.Evidence, Detector: "scenario/typed"})
	}
	for _, f := range rep.Findings {
		for _, ts := range []**timestamppb.Timestamp{&f.FirstSeen, &f.LastSeen} {
			if *ts != nil {
				*ts = timestamppb.New((*ts).AsTime().Add(shift))
			}
		}
	}
	for _, day := range rep.GetFacts().GetActivity().GetDays() {
		day.Day += days * 86400
	}
	return Sample{Name: fleetName + "/" + d.ID, Report: rep}, nil
}

// forDevice returns a shallow copy of facts (sub-messages shared, read-only, except those it
// rewrites) whose host identity is h: every simulated device reports its own hostname, serial
// and addresses. Devices are copies of the scenario suite (copy n is devices n*len(corpus) to
// (n+1)*len(corpus)-1): the MAC addresses (interfaces, gateways, neighbours, Wi-Fi) and display
// serials a sample reports are made unique to its copy, so the farms of a copy share what the
// scenario's farm shares, and copies are separate homes, as in a real fleet, instead of every
// copy of a scenario device linking to every other.
func forDevice(facts *pb.Facts, h *pb.HardwareIdentity, copyN int) *pb.Facts {
	out := &pb.Facts{}
	dst := out.ProtoReflect()
	facts.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	out.Host = h
	if copyN == 0 {
		return out
	}
	mac := func(m string) string { return saltMAC(m, copyN) }
	out.Interfaces = nil
	for _, ni := range facts.GetInterfaces() {
		c := proto.Clone(ni).(*pb.NetworkInterface)
		c.MacAddress = mac(c.GetMacAddress())
		out.Interfaces = append(out.Interfaces, c)
	}
	if lan := facts.GetLan(); lan != nil {
		l := proto.Clone(lan).(*pb.Lan)
		for _, hs := range [][]*pb.LanHost{l.GetGateways(), l.GetNeighbours()} {
			for _, x := range hs {
				x.Mac = mac(x.GetMac())
			}
		}
		for _, w := range l.GetWifi() {
			w.Bssid = mac(w.GetBssid())
		}
		out.Lan = l
	}
	out.Displays = nil
	for _, d := range facts.GetDisplays() {
		c := proto.Clone(d).(*pb.Display)
		if c.SerialString != "" {
			c.SerialString += "-" + strconv.Itoa(copyN)
		}
		if c.SerialNumber != 0 {
			c.SerialNumber ^= uint32(copyN) << 8
		}
		out.Displays = append(out.Displays, c)
	}
	return out
}

// saltMAC keeps a MAC address's vendor prefix and mixes n into the rest; anything that is not
// a MAC address is returned as it is.
func saltMAC(m string, n int) string {
	hw, err := net.ParseMAC(m)
	if err != nil || len(hw) != 6 {
		return m
	}
	hw[3] ^= byte(n >> 16)
	hw[4] ^= byte(n >> 8)
	hw[5] ^= byte(n)
	return hw.String()
}
