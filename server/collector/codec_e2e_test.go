package collector_test

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

// uploadBytes is an UploadReportRequest on the wire holding report sequence seq with one
// finding whose evidence map entries come in the order given (protobuf lets an encoder write
// map entries in any order; Go's writes them in random order unless asked to sort).
func uploadBytes(seq uint64, evidence ...[2]string) (req, rep []byte) {
	det := proto.MarshalOptions{Deterministic: true}
	rep, _ = det.Marshal(&pb.Report{Sequence: seq, Created: timestamppb.New(time.Unix(1_790_000_000, 0))})
	finding, _ := det.Marshal(&pb.Finding{Signal: "remote_tool.running", Title: "AnyDesk is running", Severity: pb.Severity_SEVERITY_HIGH})
	for _, kv := range evidence { // each entry alone is a valid map; concatenated, they merge
		e, _ := det.Marshal(&pb.Finding{Evidence: map[string]string{kv[0]: kv[1]}})
		finding = append(finding, e...)
	}
	num := (&pb.Report{}).ProtoReflect().Descriptor().Fields().ByName("findings").Number()
	rep = protowire.AppendBytes(protowire.AppendTag(rep, num, protowire.BytesType), finding)
	req = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rep)
	return req, rep
}

// TestReportStoredAsSent: the collector stores a report in the bytes the agent sent (no
// second encoding), and a resend of the same report in other bytes (map entries in another
// order) is a duplicate, not a conflict; a different report under the same sequence is one.
func TestReportStoredAsSent(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("codec"))
	conn := agentConn(t, a)
	ctx := ctxT(t)
	upload := func(req []byte) *pb.UploadReportResponse {
		t.Helper()
		var out []byte
		if err := a.rawInvoke(ctx, conn, req, &out); err != nil {
			t.Fatal(err)
		}
		var resp pb.UploadReportResponse
		if err := proto.Unmarshal(out, &resp); err != nil || !resp.GetStored() {
			t.Fatalf("upload: %v %v", &resp, err)
		}
		return &resp
	}
	// z before a: not the order a deterministic encoder would write.
	req, sent := uploadBytes(1, [2]string{"z", "2"}, [2]string{"a", "1"})
	if resp := upload(req); resp.GetDuplicate() {
		t.Fatalf("first upload: %v", resp)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(c.dir, "farmwatch.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored []byte
	if err := db.QueryRowContext(ctx, `SELECT body FROM reports WHERE device_id = ? AND sequence = 1`, a.rec.DeviceID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if body, err := store.UnpackBody(stored); err != nil || !bytes.Equal(body, sent) {
		t.Fatalf("stored body differs from the bytes sent (%v):\n got %x\nsent %x", err, body, sent)
	}
	// The same report, entries in the other order: a duplicate.
	again, _ := uploadBytes(1, [2]string{"a", "1"}, [2]string{"z", "2"})
	if resp := upload(again); !resp.GetDuplicate() {
		t.Fatalf("resend in other bytes: %v", resp)
	}
	if n := c.col.Counters()["reports_conflicting"]; n != 0 {
		t.Fatalf("resend in other bytes counted as %d conflicts", n)
	}
	// Another report under sequence 1: a conflict.
	other, _ := uploadBytes(1, [2]string{"a", "1"}, [2]string{"z", "3"})
	if resp := upload(other); !resp.GetDuplicate() {
		t.Fatalf("conflicting resend: %v", resp)
	}
	if n := c.col.Counters()["reports_conflicting"]; n != 1 {
		t.Fatalf("conflicts = %d, want 1", n)
	}
}
