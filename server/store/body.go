package store

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Report bodies are kept compressed with zstd at its fastest level. A laptop's report is
// mostly its process list (21 KB with 300 processes); the collector compresses it in the
// upload's own goroutine (PackBody), beside the single SQLite writer rather than in it, and
// the writer then has a half to a fifth of the pages to write.
//
// A packed body starts with a zero byte, which no protobuf message can start with (field
// number 0 is invalid), then a format byte; anything else is a plain protobuf body, as every
// collector before this one stored it. The two kinds live side by side in one table.

const (
	packedMark  = 0x00
	packedPlain = 0x00 // kept as is behind the mark: a body that itself starts with 0x00
	packedZstd  = 0x01
	// packMin is the size below which a body is kept as it is: the frame and the call cost
	// more than they save.
	packMin = 256
	// MaxUnpacked bounds what UnpackBody inflates: the collector takes messages of at most
	// 2 MiB (collector.MaxMessageBytes), so anything bigger is not a body it stored.
	MaxUnpacked = 8 << 20
)

// The encoder and decoder are safe for concurrent EncodeAll and DecodeAll; each keeps a few
// block coders (at most two in flight each; more callers wait their turn).
var (
	zOnce sync.Once
	zEnc  *zstd.Encoder
	zDec  *zstd.Decoder
)

func zstdCoders() (*zstd.Encoder, *zstd.Decoder) {
	zOnce.Do(func() {
		var err error
		zEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2),
			zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(true))
		if err != nil {
			panic(err) // fixed, valid options
		}
		zDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(MaxUnpacked),
			zstd.WithDecoderMaxWindow(MaxUnpacked))
		if err != nil {
			panic(err)
		}
	})
	return zEnc, zDec
}

// PackBody returns the form in which a report body is stored: compressed when that is
// smaller, else body itself. UnpackBody(PackBody(b)) is b for every b.
func PackBody(body []byte) []byte {
	if len(body) > 0 && body[0] == packedMark {
		return append([]byte{packedMark, packedPlain}, body...) // not protobuf; kept exactly
	}
	if len(body) < packMin {
		return body
	}
	enc, _ := zstdCoders()
	out := enc.EncodeAll(body, append(make([]byte, 0, len(body)/2+64), packedMark, packedZstd))
	if len(out) >= len(body) {
		return body
	}
	return out
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
	if len(stored) < 2 || stored[1] != packedZstd {
		return nil, errBadBody
	}
	_, dec := zstdCoders()
	out, err := dec.DecodeAll(stored[2:], nil)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	case len(out) > MaxUnpacked:
		return nil, fmt.Errorf("%w: unpacks past %d bytes", errBadBody, MaxUnpacked)
	}
	return out, nil
}
