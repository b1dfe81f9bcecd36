package store

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// factsFromReport reads stored report bodies (which came from devices): any bytes give facts
// or an error, and for a real report exactly the facts proto.Unmarshal would give.
func FuzzFactsFromReport(f *testing.F) {
	full, _ := proto.Marshal(&pb.Report{Sequence: 7, Facts: &pb.Facts{Host: &pb.HardwareIdentity{Hostname: "h", OsVersion: "12"}},
		Findings: []*pb.Finding{{Signal: "kvm.usb", Title: "PiKVM"}}})
	f.Add(full)
	f.Add([]byte{})
	f.Add([]byte{0x2a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x68})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := factsFromReport(b)
		rep := &pb.Report{}
		if perr := proto.Unmarshal(b, rep); perr != nil {
			return // not a report: an error or some facts, never a panic
		}
		if err != nil {
			t.Fatalf("a report proto.Unmarshal accepts was refused: %v", err)
		}
		want := rep.GetFacts()
		if want == nil {
			want = &pb.Facts{}
		}
		if !proto.Equal(got, want) {
			t.Fatalf("facts %v, want %v", got, want)
		}
	})
}
