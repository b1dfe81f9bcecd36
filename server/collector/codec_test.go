package collector

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestReportField(t *testing.T) {
	rep := &pb.Report{Sequence: 7, Created: timestamppb.Now(), Findings: []*pb.Finding{{Signal: "a.b", Evidence: map[string]string{"x": "1", "y": "2"}}}}
	det := proto.MarshalOptions{Deterministic: true}
	rb, _ := det.Marshal(rep)
	req, _ := det.Marshal(&pb.UploadReportRequest{Report: rep})
	if got := reportField(req); !bytes.Equal(got, rb) {
		t.Fatalf("report field: %x, want %x", got, rb)
	}
	twice := append(bytes.Clone(req), req...) // protobuf merges the two: no single slice is the report
	unknown := protowire.AppendVarint(protowire.AppendTag(bytes.Clone(req), 9, protowire.VarintType), 5)
	for name, tc := range map[string]struct {
		in   []byte
		want []byte
	}{
		"twice":             {twice, nil},
		"empty":             {nil, nil},
		"truncated":         {req[:len(req)-3], nil},
		"unknown field too": {unknown, rb},
		"wrong wire type":   {protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), nil},
	} {
		if got := reportField(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %x, want %x", name, got, tc.want)
		}
	}
}

// FuzzReportField: whatever the upload's bytes, the slice kept as the report's body is the
// report gRPC decoded, or nothing (the collector then encodes the decoded report).
func FuzzReportField(f *testing.F) {
	rep := &pb.Report{Sequence: 7, Findings: []*pb.Finding{{Signal: "a.b", Evidence: map[string]string{"x": "1"}}}}
	req, _ := proto.Marshal(&pb.UploadReportRequest{Report: rep})
	f.Add(req)
	f.Add(append(bytes.Clone(req), req...))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var decoded pb.UploadReportRequest
		if proto.Unmarshal(b, &decoded) != nil {
			return // gRPC refuses it before the report is looked at
		}
		raw := reportField(b)
		if raw == nil {
			return
		}
		var kept pb.Report
		if err := proto.Unmarshal(raw, &kept); err != nil || !proto.Equal(&kept, decoded.GetReport()) {
			t.Fatalf("kept bytes decode to %v (%v); gRPC decoded %v", &kept, err, decoded.GetReport())
		}
	})
}
