package collector

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/pki"
)

func validReport() *pb.Report {
	return &pb.Report{
		Sequence: 7, Created: timestamppb.Now(), AgentVersion: "1.0.0",
		Facts: &pb.Facts{
			Host:       &pb.HardwareIdentity{Hostname: "laptop", MacAddresses: []string{"52:54:00:12:34:56"}},
			Time:       &pb.TimeFacts{Zone: "Europe/Berlin", UtcOffsetSeconds: 3600},
			Processes:  []*pb.Process{{Pid: 1, Name: "init", Sockets: []*pb.Socket{{Protocol: "tcp", LocalPort: 22, State: "LISTEN"}}}},
			Interfaces: []*pb.NetworkInterface{{Name: "eth0", Addresses: []string{"192.0.2.1/24"}}},
		},
		Findings: []*pb.Finding{{Signal: "os_remote.enabled", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: 0.6, Evidence: map[string]string{"port": "5900"}}},
	}
}

func TestValidateReport(t *testing.T) {
	if err := ValidateReport(validReport()); err != nil {
		t.Fatalf("valid report refused: %v", err)
	}
	for name, mutate := range map[string]func(r *pb.Report){
		"nil facts are fine": nil,
		"zero sequence":      func(r *pb.Report) { r.Sequence = 0 },
		"huge sequence":      func(r *pb.Report) { r.Sequence = 1 << 63 },
		"no created":         func(r *pb.Report) { r.Created = nil },
		"bad created":        func(r *pb.Report) { r.Created = &timestamppb.Timestamp{Seconds: 1 << 62} },
		"signal case":        func(r *pb.Report) { r.Findings[0].Signal = "OS.remote" },
		"signal no family":   func(r *pb.Report) { r.Findings[0].Signal = "remote" },
		"severity unknown":   func(r *pb.Report) { r.Findings[0].Severity = 99 },
		"confidence NaN":     func(r *pb.Report) { r.Findings[0].Confidence = nan() },
		"long evidence":      func(r *pb.Report) { r.Findings[0].Evidence["x"] = strings.Repeat("a", 5000) },
		"empty evidence key": func(r *pb.Report) { r.Findings[0].Evidence[""] = "a" },
		"long title":         func(r *pb.Report) { r.Findings[0].Title = strings.Repeat("a", 600) },
		"bad mac":            func(r *pb.Report) { r.Facts.Host.MacAddresses = []string{"52:54"} },
		"offset":             func(r *pb.Report) { r.Facts.Time.UtcOffsetSeconds = 20 * 3600 },
		"port":               func(r *pb.Report) { r.Facts.Processes[0].Sockets[0].LocalPort = 70000 },
		"long hostname":      func(r *pb.Report) { r.Facts.Host.Hostname = strings.Repeat("h", 300) },
		"usb vendor id":      func(r *pb.Report) { r.Facts.UsbDevices = []*pb.UsbDevice{{VendorId: 0x10000}} },
		"usb product string": func(r *pb.Report) { r.Facts.UsbDevices = []*pb.UsbDevice{{Product: strings.Repeat("p", 300)}} },
		"display flood": func(r *pb.Report) {
			for range 65 {
				r.Facts.Displays = append(r.Facts.Displays, &pb.Display{})
			}
		},
		"zone change offset": func(r *pb.Report) {
			r.Facts.Time.ZoneChanges = []*pb.ZoneChange{{At: timestamppb.Now(), ToOffsetSeconds: 99 * 3600}}
		},
		"zone change flood": func(r *pb.Report) {
			for range 33 {
				r.Facts.Time.ZoneChanges = append(r.Facts.Time.ZoneChanges, &pb.ZoneChange{})
			}
		},
		"activity short day": func(r *pb.Report) {
			r.Facts.Activity = &pb.Activity{Days: []*pb.ActivityDay{{Day: 86400, ActiveMinutes: make([]uint32, 23), SampledMinutes: make([]uint32, 24)}}}
		},
		"activity unaligned day": func(r *pb.Report) { r.Facts.Activity = &pb.Activity{Days: []*pb.ActivityDay{activityDay(86401)}} },
		"activity duplicate day": func(r *pb.Report) {
			r.Facts.Activity = &pb.Activity{Days: []*pb.ActivityDay{activityDay(86400), activityDay(86400)}}
		},
		"activity 61 minutes": func(r *pb.Report) {
			d := activityDay(86400)
			d.SampledMinutes[3], d.ActiveMinutes[3] = 61, 61
			r.Facts.Activity = &pb.Activity{Days: []*pb.ActivityDay{d}}
		},
		"activity more active than sampled": func(r *pb.Report) {
			d := activityDay(86400)
			d.SampledMinutes[3], d.ActiveMinutes[3] = 10, 11
			r.Facts.Activity = &pb.Activity{Days: []*pb.ActivityDay{d}}
		},
		"activity too many days": func(r *pb.Report) {
			r.Facts.Activity = &pb.Activity{}
			for i := range 36 {
				r.Facts.Activity.Days = append(r.Facts.Activity.Days, activityDay(int64(i+1)*86400))
			}
		},
		"rdp client string": func(r *pb.Report) { r.Facts.RdpClients = []*pb.RdpClient{{ClientName: strings.Repeat("c", 300)}} },
		"rdp client offset": func(r *pb.Report) { r.Facts.RdpClients = []*pb.RdpClient{{ClientUtcOffsetSeconds: -20 * 3600}} },
		"too many findings": func(r *pb.Report) {
			for range maxFindings {
				r.Findings = append(r.Findings, &pb.Finding{Signal: "a.b"})
			}
		},
	} {
		r := validReport()
		if mutate == nil {
			r.Facts = nil
			if err := ValidateReport(r); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		mutate(r)
		if err := ValidateReport(r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func nan() float64 { z := 0.0; return z / z }

func activityDay(day int64) *pb.ActivityDay {
	return &pb.ActivityDay{Day: day, ActiveMinutes: make([]uint32, 24), SampledMinutes: make([]uint32, 24)}
}

func TestValidateLocationFacts(t *testing.T) {
	r := validReport()
	d := activityDay(20000 * 86400)
	d.SampledMinutes[9], d.ActiveMinutes[9] = 60, 45
	r.Facts.Activity = &pb.Activity{Source: "x11-screensaver", SampleIntervalSeconds: 60, Known: true, Days: []*pb.ActivityDay{d}}
	r.Facts.Time.ZoneChanges = []*pb.ZoneChange{{At: timestamppb.Now(), FromZone: "America/New_York", ToZone: "Asia/Seoul", FromOffsetSeconds: -18000, ToOffsetSeconds: 32400}}
	r.Facts.RdpClients = []*pb.RdpClient{{Session: ":10", ClientAddress: "203.0.113.7", KeyboardLayout: "00000412", Source: "xrdp-log"}}
	if err := ValidateReport(r); err != nil {
		t.Fatal(err)
	}
}

// FuzzReportIngest feeds arbitrary bytes through what UploadReport does with a message before
// it reaches the store: protobuf decoding, validation and the canonical re-encoding.
func FuzzReportIngest(f *testing.F) {
	b, _ := proto.Marshal(validReport())
	f.Add(b)
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		req := &pb.UploadReportRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			return
		}
		if ValidateReport(req.GetReport()) != nil {
			return
		}
		out, err := proto.MarshalOptions{Deterministic: true}.Marshal(req.GetReport())
		if err != nil {
			t.Fatalf("validated report does not re-encode: %v", err)
		}
		if len(out) > MaxMessageBytes {
			t.Fatalf("validated report of %d bytes exceeds the message limit", len(out))
		}
	})
}

// FuzzEnrollCSR feeds arbitrary bytes to the CSR parser enrollment uses.
func FuzzEnrollCSR(f *testing.F) {
	f.Add([]byte("garbage"))
	f.Add([]byte{0x30, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		csr, err := pki.ParseCSR(b)
		if err != nil {
			return
		}
		if _, err := pki.DeviceID(csr.PublicKey); err != nil {
			t.Fatalf("accepted CSR without a usable key: %v", err)
		}
	})
}
