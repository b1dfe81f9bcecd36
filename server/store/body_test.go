package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// bigReport is a report the size of a laptop's: 300 processes.
func bigReport(seq uint64) *pb.Report {
	r := report(seq)
	for i := range 300 {
		r.Facts.Processes = append(r.Facts.Processes, &pb.Process{Pid: int32(1000 + i), Name: fmt.Sprintf("worker-%d", i%40),
			Executable: fmt.Sprintf("/usr/lib/app-%d/bin/worker", i%40), CommandLine: fmt.Sprintf("/usr/lib/app-%d/bin/worker --id %d", i%40, i), Username: "alice"})
	}
	return r
}

func TestBodiesArePackedAndReadBack(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		enrollDevice(t, s, devA)
		rep := bigReport(1)
		body, _ := proto.MarshalOptions{Deterministic: true}.Marshal(rep)
		packed := PackBody(body)
		if len(packed)*3 > len(body) {
			t.Fatalf("a %d-byte report packs to %d bytes", len(body), len(packed))
		}
		for _, in := range []Ingest{
			{DeviceID: devA, Report: rep, Body: body, Packed: packed, Received: t0}, // as the collector sends it
			{DeviceID: devA, Report: rep, Body: body, Received: t0},                 // the store packs it
		} {
			res, err := s.IngestReport(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if in.Packed == nil && (!res.Duplicate || res.Conflict) {
				t.Fatalf("the same report again: %+v", res)
			}
		}
		got, err := s.Report(ctx, devA, 1)
		if err != nil || !proto.Equal(got, rep) {
			t.Fatalf("report read back differs: %v", err)
		}
		facts, _, err := s.Facts(ctx, devA)
		if err != nil || len(facts.GetProcesses()) != 300 {
			t.Fatalf("facts read back: %d processes, %v", len(facts.GetProcesses()), err)
		}
		// Another body under the same sequence is a conflict, whatever the packing.
		other := bigReport(1)
		other.Facts.Processes[7].Name = "anydesk"
		ob, _ := proto.Marshal(other)
		res, err := s.IngestReport(ctx, Ingest{DeviceID: devA, Report: other, Body: ob, Packed: PackBody(ob), Received: t0})
		if err != nil || !res.Duplicate || !res.Conflict {
			t.Fatalf("different body, same sequence: %+v %v", res, err)
		}
	})
}

func TestUnpackBody(t *testing.T) {
	plain, _ := proto.Marshal(bigReport(3))
	for name, tc := range map[string]struct {
		stored, want []byte
		bad          bool
	}{
		"plain protobuf, as older collectors stored it": {stored: plain, want: plain},
		"empty":                    {stored: []byte{}, want: []byte{}},
		"packed":                   {stored: PackBody(plain), want: plain},
		"small, kept as is":        {stored: PackBody([]byte{8, 1}), want: []byte{8, 1}},
		"starting with the mark":   {stored: PackBody([]byte{0, 1, 2}), want: []byte{0, 1, 2}},
		"unknown format":           {stored: []byte{0, 9, 1, 2}, bad: true},
		"mark alone":               {stored: []byte{0}, bad: true},
		"damaged header":           {stored: []byte{0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, bad: true},
		"truncated":                {stored: PackBody(plain)[:40], bad: true},
		"unpacks past MaxUnpacked": {stored: s2Block(bytes.Repeat([]byte{'a'}, MaxUnpacked+10)), bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := UnpackBody(tc.stored)
			if tc.bad {
				if err == nil || !errors.Is(err, errBadBody) {
					t.Fatalf("got %d bytes, %v; want errBadBody", len(got), err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, %v; want %d", len(got), err, len(tc.want))
			}
		})
	}
}

// s2Block packs b whatever its size (PackBody would too: it only skips small bodies).
func s2Block(b []byte) []byte {
	return append([]byte{packedMark, packedS2}, s2.Encode(nil, b)...)
}

// FuzzUnpackBody: stored bodies come from the database, which may be damaged; unpacking never
// panics, never inflates past MaxUnpacked, and always gives back what PackBody was given.
func FuzzUnpackBody(f *testing.F) {
	plain, _ := proto.Marshal(bigReport(1))
	f.Add(plain)
	f.Add(PackBody(plain))
	f.Add([]byte{0, 1, 0xff})
	f.Add([]byte{0, 0})
	f.Add(s2Block(bytes.Repeat([]byte("abc"), 1000)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if out, err := UnpackBody(b); err == nil && len(out) > MaxUnpacked {
			t.Fatalf("unpacked %d bytes", len(out))
		}
		if len(b) <= MaxUnpacked {
			out, err := UnpackBody(PackBody(b))
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("round trip of %d bytes: %v", len(b), err)
			}
		}
	})
}

// BenchmarkPackBody: the collector's cost of compressing one report body, by size: a small
// report (a few findings, few facts), the load generator's average (2.9 KB) and a laptop's
// with 300 processes.
func BenchmarkPackBody(b *testing.B) {
	big, _ := proto.Marshal(bigReport(1))
	for _, n := range []int{500, 2900, len(big)} {
		body := big[:n]
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var packed []byte
			b.SetBytes(int64(n))
			for b.Loop() {
				packed = PackBody(body)
			}
			b.ReportMetric(float64(len(packed)), "packed-bytes")
		})
	}
}
