package collector

import (
	"context"
	"sync"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The collector stores a report in the bytes it arrived in: encoding it again took 8 % of the
// collector's CPU under load. The server's codec is gRPC's protobuf codec, except that an
// UploadReportRequest also keeps its report's wire bytes; the first interceptor moves them
// into the call's context, where UploadReport finds them (rawReport).
//
// Those bytes are not canonical (protobuf leaves the order of map entries to the encoder), so
// a replay is compared with the stored report by value where the bytes differ (store's
// sameBody).

// codec is the server's codec.
type codec struct{ encoding.CodecV2 }

func newCodec() codec { return codec{encoding.GetCodecV2(grpcproto.Name)} }

// raws holds the report bytes of decoded uploads until unaryAuth takes them, by request. An
// entry lives from the decode to the first interceptor, which gRPC calls right after it.
var raws sync.Map // *pb.UploadReportRequest -> []byte

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	req, ok := v.(*pb.UploadReportRequest)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	b := data.Materialize() // a copy of the pooled buffers: the report keeps pointing into it
	if err := proto.Unmarshal(b, req); err != nil {
		return err
	}
	if r := reportField(b); r != nil {
		raws.Store(req, r)
	}
	return nil
}

// reportField returns the bytes of field 1 (report) of an UploadReportRequest on the wire, or
// nil when the field is absent or appears more than once (protobuf then merges the pieces,
// and no single slice is the report).
func reportField(b []byte) []byte {
	var out []byte
	seen := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 || seen {
				return nil
			}
			out, seen = v, true
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil
		}
		b = b[m:]
	}
	return out
}

type rawKey struct{}

// takeRaw moves a decoded upload's report bytes from raws into ctx.
func takeRaw(ctx context.Context, req any) context.Context {
	r, ok := req.(*pb.UploadReportRequest)
	if !ok {
		return ctx
	}
	if b, ok := raws.LoadAndDelete(r); ok {
		return context.WithValue(ctx, rawKey{}, b)
	}
	return ctx
}

// rawReport returns the wire bytes of the upload's report, if the codec kept them.
func rawReport(ctx context.Context) []byte {
	b, _ := ctx.Value(rawKey{}).([]byte)
	return b
}
