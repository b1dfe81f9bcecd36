package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/score"
	"github.com/farmwatch/farmwatch/server/store"
)

// SeedID is the collector device id a scenario device gets when seeded: 32 hex characters
// derived from its fleet and scenario id.
func SeedID(fleetName, id string) string {
	h := sha256.Sum256([]byte(fleetName + "/" + id))
	return hex.EncodeToString(h[:16])
}

// Seed loads the scenario suite in dir into a collector store as if its devices had enrolled
// and reported: one report each with the recorded facts and agent findings, the egress
// addresses, the derived location and fleet findings, the clusters and the scores under p. It
// is for demonstrations and screenshots (the console and API on realistic data), never for
// a production store. It returns the number of devices seeded.
func Seed(ctx context.Context, st store.Store, dir string, p *policy.Policy, now time.Time) (int, error) {
	fleets, err := loadFleets(dir)
	if err != nil {
		return 0, err
	}
	var clusters []store.Cluster
	fleetFindings := map[string][]*pb.Finding{}
	n := 0
	for _, fl := range fleets {
		dv := derive(fl, p, now)
		ids := map[string]string{}
		for i, d := range fl.devices {
			id := SeedID(fl.Fleet, d.spec.ID)
			ids[d.spec.ID] = id
			facts := proto.Clone(d.facts).(*pb.Facts)
			host := facts.GetHost()
			dev := store.Device{ID: id, Hostname: d.spec.Hostname, OS: firstOf(host.GetOs(), "linux"), Platform: host.GetPlatform(),
				OSVersion: host.GetOsVersion(), KernelVersion: host.GetKernelVersion(), Arch: host.GetArch(), SerialNumber: host.GetSerialNumber(),
				MachineID: host.GetMachineId(), MACAddresses: host.GetMacAddresses(), AgentVersion: "scenario", EnrolledAt: now.Add(-30 * 24 * time.Hour)}
			serial := new(big.Int).SetBytes([]byte(id[:12])).String()
			if err := st.Enroll(ctx, store.Enrollment{Device: dev, Certificate: store.Certificate{Serial: serial, DeviceID: id,
				NotBefore: dev.EnrolledAt, NotAfter: now.Add(7 * 24 * time.Hour), IssuedAt: dev.EnrolledAt}}); err != nil {
				return n, fmt.Errorf("seed %s: %w", d.spec.ID, err)
			}
			if d.spec.Group != "" {
				if err := st.SetDeviceGroup(ctx, id, d.spec.Group); err != nil {
					return n, err
				}
			}
			var agent []*pb.Finding
			for _, f := range dv.findings[d.spec.ID] {
				if f.Source != "agent" {
					continue
				}
				agent = append(agent, pbFinding(f))
			}
			addr := ""
			for _, e := range d.egress {
				addr = e.addr.String()
			}
			rep := &pb.Report{Sequence: 1, Created: timestamppb.New(now.Add(-time.Duration(i%7) * time.Minute)), AgentVersion: "scenario", Facts: facts, Findings: agent}
			body, err := proto.Marshal(rep)
			if err != nil {
				return n, err
			}
			if _, err := st.IngestReport(ctx, store.Ingest{DeviceID: id, Report: rep, Body: body, Received: rep.GetCreated().AsTime(), Address: addr}); err != nil {
				return n, fmt.Errorf("seed %s: %w", d.spec.ID, err)
			}
			for _, e := range d.egress {
				shift := now.Sub(fl.observed)
				if _, err := st.RecordEgress(ctx, id, store.Egress{Address: e.addr.String(), LastSeen: e.last.Add(shift), Country: e.place.Country,
					ASN: e.place.ASN, ASOrg: e.place.ASOrg, Class: e.place.Class}); err != nil {
					return n, err
				}
			}
			var loc []*pb.Finding
			for _, f := range dv.findings[d.spec.ID] {
				if f.Source == "collector" && strings.HasPrefix(f.Signal, "location.") {
					loc = append(loc, pbFinding(f))
				}
			}
			if err := st.ReplaceCollectorFindings(ctx, id, loc, dv.location[d.spec.ID], now); err != nil {
				return n, err
			}
			n++
		}
		for _, c := range dv.clusters {
			sc := store.Cluster{ID: c.ID, Kinds: c.Kinds, First: c.First, Last: c.Last, Updated: now}
			for _, m := range c.Members {
				sc.Members = append(sc.Members, ids[m])
			}
			for _, l := range c.Links {
				sl := store.ClusterLink{Kind: l.Kind, Value: l.Value, First: l.First, Last: l.Last}
				for _, m := range l.Devices {
					sl.Devices = append(sl.Devices, ids[m])
				}
				sc.Links = append(sc.Links, sl)
			}
			clusters = append(clusters, sc)
		}
		for specID, fs := range dv.findings {
			for _, f := range fs {
				if strings.HasPrefix(f.Signal, "fleet.") {
					fleetFindings[ids[specID]] = append(fleetFindings[ids[specID]], pbFinding(f))
				}
			}
		}
	}
	if err := st.ReplaceFleet(ctx, clusters, fleetFindings, now); err != nil {
		return n, err
	}
	ids, err := st.DeviceIDs(ctx)
	if err != nil {
		return n, err
	}
	for _, id := range ids {
		d, err := st.Device(ctx, id)
		if err != nil {
			return n, err
		}
		fs, err := st.Findings(ctx, id)
		if err != nil {
			return n, err
		}
		r := score.Score(p, score.Device{ID: id, Group: d.Group, Findings: fs}, now)
		b, _ := json.Marshal(r)
		if err := st.SetScore(ctx, id, store.Score{Value: r.Score, Band: r.Band, Breakdown: b, PolicyVersion: r.PolicyVersion, At: now}); err != nil {
			return n, err
		}
	}
	return n, nil
}

func pbFinding(f store.Finding) *pb.Finding {
	return &pb.Finding{Signal: f.Signal, Key: f.Key, Severity: f.Severity, Confidence: f.Confidence, Title: f.Title, Evidence: f.Evidence,
		Attack: f.Attack, Detector: f.Detector, FirstSeen: timestamppb.New(f.FirstSeen), LastSeen: timestamppb.New(f.LastSeen)}
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
