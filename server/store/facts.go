package store

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// reportFactsField is the field number of Report.facts.
const reportFactsField = 5

// factsFromReport reads the facts out of a stored report body without decoding the rest (the
// findings, the detector statuses). A device's current facts are those of its newest report:
// they are stored once, with the report, not copied beside the device at every ingest.
func factsFromReport(body []byte) (*pb.Facts, error) {
	f := &pb.Facts{}
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return nil, fmt.Errorf("report: %w", protowire.ParseError(n))
		}
		body = body[n:]
		if num == reportFactsField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(body)
			if m < 0 {
				return nil, fmt.Errorf("report facts: %w", protowire.ParseError(m))
			}
			// Repeated occurrences of a message field merge, as proto.Unmarshal would.
			if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(v, f); err != nil {
				return nil, fmt.Errorf("report facts: %w", err)
			}
			body = body[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, body)
		if m < 0 {
			return nil, fmt.Errorf("report: %w", protowire.ParseError(m))
		}
		body = body[m:]
	}
	return f, nil
}
