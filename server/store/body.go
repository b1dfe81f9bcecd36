package store

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Report bodies are kept compressed with S2 (klauspost/compress: Snappy's block format,
// extended). A laptop's report is mostly its process list: with 300 processes 21 KB, which S2
// shrinks to 5.2 KB in about 14 µs (zstd's fastest level: 3.9 KB in 84 µs; the load
// generator's 1.6–5 KB reports shrink 2–2.4× in 2–5 µs). The collector compresses in the
// upload's own goroutine (PackBody), beside the single SQLite writer rather than in it, and
// the writer then has a half to a quarter of the pages to write.
//
// A packed body starts with a zero byte, which no protobuf message can start with (field
// number 0 is invalid), then a format byte; anything else is a plain protobuf body, as every
// collector before this one stored it. The two kinds live side by side in one table.

const (
	packedMark  = 0x00
	packedPlain = 0x00 // kept as is behind the mark: a body that itself starts with 0x00
	packedS2    = 0x01
	// packMin is the size below which a body is kept as it is: the framing and the call cost
	// more than they save.
	packMin = 128
	// MaxUnpacked bounds what UnpackBody decompresses: the collector takes messages of at
	// most 2 MiB (collector.MaxMessageBytes), so anything bigger is not a body it stored.
	MaxUnpacked = 8 << 20
)

// PackBody returns the form in which a report body is stored: compressed when that is
// smaller, else body itself. UnpackBody(PackBody(b)) is b for every b.
func PackBody(body []byte) []byte {
	if len(body) > 0 && body[0] == packedMark {
		return append([]byte{packedMark, packedPlain}, body...) // not protobuf; kept exactly
	}
	if len(body) < packMin {
		return body
	}
	out := make([]byte, 2+s2.MaxEncodedLen(len(body)))
	out[0], out[1] = packedMark, packedS2
	n := len(s2.Encode(out[2:], body))
	if 2+n >= len(body) {
		return body
	}
	if 2*(2+n) < len(out) { // the body waits for its commit: hold only what it needs
		return append([]byte(nil), out[:2+n]...)
	}
	return out[: 2+n : 2+n]
}

// errBadBody is a stored body that is neither protobuf nor a packed form this collector reads.
var errBadBody = errors.New("stored report body: unknown or damaged packing")

// UnpackBody returns the protobuf body of a stored one.
func UnpackBody(stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != packedMark {
		return stored, nil
	}
	if len(stored) >= 2 && stored[1] == packedPlain {
		return stored[2:], nil
	}
	if len(stored) < 2 || stored[1] != packedS2 {
		return nil, errBadBody
	}
	n, err := s2.DecodedLen(stored[2:])
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	case n > MaxUnpacked:
		return nil, fmt.Errorf("%w: unpacks to %d bytes, past %d", errBadBody, n, MaxUnpacked)
	}
	out, err := s2.Decode(make([]byte, n), stored[2:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	return out, nil
}
