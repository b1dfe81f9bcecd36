package packet

import (
	"net/netip"
	"time"
)

// Reassembly limits: the bytes kept per ClientHello, the hellos tracked at
// once, and how long one may take to complete.
const (
	MaxReassemblyBytes = 16 << 10
	MaxReassemblyFlows = 256
	ReassemblyTimeout  = 2 * time.Second
	maxQUICRanges      = 64 // CRYPTO byte ranges remembered per QUIC connection
)

// FlagReassembled marks a TLS or QUIC record whose ClientHello was put
// together from several packets; it is reported on the completing packet.
const FlagReassembled = "reassembled"

// ReassemblyStats count what a Reassembler did.
type ReassemblyStats struct {
	Started   uint64 // ClientHellos that did not fit one packet
	Completed uint64 // ... and were reassembled
	Evicted   uint64 // dropped, still live, to make room (the oldest goes)
	Expired   uint64 // dropped after ReassemblyTimeout
	Overflow  uint64 // dropped for growing past MaxReassemblyBytes
}

// Reassembler puts together ClientHellos that span several client QUIC
// Initials (keyed by version and DCID; CRYPTO data placed by offset) or
// several TCP segments (keyed by the 4-tuple and the first segment's
// sequence number; in-order payload appended). Memory is bounded:
// MaxReassemblyFlows slots of at most MaxReassemblyBytes each, allocated
// when first used and then reused. Give it to a Decoder with
// WithReassembler; like the Decoder it is not safe for concurrent use.
type Reassembler struct {
	slots [MaxReassemblyFlows]rflow
	index map[rkey]int
	nTCP  int // live TCP slots: no lookup for other segments when 0
	stats ReassemblyStats
}

type rkey struct {
	quic     bool
	version  uint32
	cid      [maxCID]byte
	cidLen   uint8
	src, dst netip.AddrPort
}

type rflow struct {
	live   bool
	key    rkey
	start  time.Time
	isn    uint32 // TCP: the first segment's sequence number
	next   uint32 // TCP: the next expected sequence number
	buf    []byte
	ranges [maxQUICRanges][2]int // QUIC: CRYPTO ranges received, merged
	nr     int
}

// NewReassembler returns an empty Reassembler.
func NewReassembler() *Reassembler {
	return &Reassembler{index: make(map[rkey]int, MaxReassemblyFlows)}
}

// Stats returns the counters.
func (r *Reassembler) Stats() ReassemblyStats { return r.stats }

// Len returns how many ClientHellos are being reassembled.
func (r *Reassembler) Len() int { return len(r.index) }

// lookup returns the live slot for k, dropping it if it has expired.
func (r *Reassembler) lookup(k *rkey, now time.Time) *rflow {
	i, ok := r.index[*k]
	if !ok {
		return nil
	}
	f := &r.slots[i]
	if now.Sub(f.start) > ReassemblyTimeout || now.Before(f.start) && f.start.Sub(now) > ReassemblyTimeout {
		r.stats.Expired++
		r.drop(i)
		return nil
	}
	return f
}

func (r *Reassembler) drop(i int) {
	f := &r.slots[i]
	if !f.live {
		return
	}
	delete(r.index, f.key)
	if !f.key.quic {
		r.nTCP--
	}
	f.live = false
}

// create takes a slot for k: a free one, else an expired one, else the
// oldest (counted as evicted).
func (r *Reassembler) create(k *rkey, now time.Time) *rflow {
	if i, ok := r.index[*k]; ok {
		r.drop(i)
	}
	r.stats.Started++
	slot, oldest := -1, -1
	for i := range r.slots {
		f := &r.slots[i]
		if !f.live {
			slot = i
			break
		}
		if now.Sub(f.start) > ReassemblyTimeout {
			r.stats.Expired++
			r.drop(i)
			slot = i
			break
		}
		if oldest < 0 || f.start.Before(r.slots[oldest].start) {
			oldest = i
		}
	}
	if slot < 0 {
		r.stats.Evicted++
		r.drop(oldest)
		slot = oldest
	}
	f := &r.slots[slot]
	if f.buf == nil {
		f.buf = make([]byte, 0, MaxReassemblyBytes)
	}
	f.live, f.key, f.start, f.buf, f.nr = true, *k, now, f.buf[:0], 0
	r.index[*k] = slot
	if !k.quic {
		r.nTCP++
	}
	return f
}

// quic adds the CRYPTO data of one client Initial: crypto holds the data at
// its offsets, ranges says which bytes of it this packet carried. It
// returns the whole handshake message once the bytes from offset 0 hold it.
// The returned slice is valid until the next call.
func (r *Reassembler) quic(version uint32, dcid []byte, crypto []byte, ranges [][2]int, now time.Time) ([]byte, bool) {
	if len(ranges) == 0 || len(dcid) > maxCID {
		return nil, false
	}
	k := rkey{quic: true, version: version, cidLen: uint8(len(dcid))}
	copy(k.cid[:], dcid)
	f := r.lookup(&k, now)
	if f == nil {
		f = r.create(&k, now)
	}
	for _, rg := range ranges {
		lo, hi := rg[0], rg[1]
		if lo < 0 || hi > len(crypto) || lo >= hi {
			continue
		}
		if hi > MaxReassemblyBytes {
			r.stats.Overflow++
			r.drop(r.index[k])
			return nil, false
		}
		if hi > len(f.buf) {
			f.buf = f.buf[:hi]
		}
		copy(f.buf[lo:hi], crypto[lo:hi])
		if !f.addRange(lo, hi) {
			r.stats.Overflow++
			r.drop(r.index[k])
			return nil, false
		}
	}
	have := 0
	if f.nr > 0 && f.ranges[0][0] == 0 {
		have = f.ranges[0][1]
	}
	hs := f.buf[:have]
	if n, ok := handshakeLen(hs); ok && n <= have {
		r.stats.Completed++
		r.drop(r.index[k]) // the bytes stay until the slot is reused
		return hs[:n], true
	}
	return nil, false
}

// addRange merges [lo,hi) into the sorted, disjoint ranges; false when
// there are too many.
func (f *rflow) addRange(lo, hi int) bool {
	rs := f.ranges[:f.nr]
	// Find the first range that ends at or after lo.
	i := 0
	for i < len(rs) && rs[i][1] < lo {
		i++
	}
	j := i
	for j < len(rs) && rs[j][0] <= hi {
		lo, hi = min(lo, rs[j][0]), max(hi, rs[j][1])
		j++
	}
	if i == j { // insert
		if f.nr == maxQUICRanges {
			return false
		}
		copy(f.ranges[i+1:f.nr+1], f.ranges[i:f.nr])
		f.ranges[i] = [2]int{lo, hi}
		f.nr++
		return true
	}
	f.ranges[i] = [2]int{lo, hi}
	n := copy(f.ranges[i+1:], f.ranges[j:f.nr])
	f.nr = i + 1 + n
	return true
}

// handshakeLen returns the length of the handshake message starting hs,
// header included, once its header is there.
func handshakeLen(hs []byte) (int, bool) {
	if len(hs) < 4 {
		return 0, false
	}
	return 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])), true
}

// tcpStart records the first segment of a ClientHello that did not fit it.
func (r *Reassembler) tcpStart(src, dst netip.AddrPort, seq uint32, payload []byte, now time.Time) {
	if len(payload) >= MaxReassemblyBytes {
		r.stats.Overflow++
		return
	}
	k := rkey{src: src, dst: dst}
	f := r.create(&k, now)
	f.isn, f.next = seq, seq+uint32(len(payload))
	f.buf = append(f.buf, payload...)
}

// tcpMore adds a later segment of the flow, if one is being reassembled,
// and returns the TLS records gathered so far when it added bytes. The
// caller parses them and calls tcpDone when the ClientHello is complete.
func (r *Reassembler) tcpMore(src, dst netip.AddrPort, seq uint32, payload []byte, now time.Time) ([]byte, bool) {
	if r.nTCP == 0 || len(payload) == 0 {
		return nil, false
	}
	k := rkey{src: src, dst: dst}
	f := r.lookup(&k, now)
	if f == nil {
		return nil, false
	}
	d := int32(seq - f.next)
	if d > 0 || int64(d)+int64(len(payload)) <= 0 {
		return nil, false // a hole before it, or a retransmission of what we have
	}
	payload = payload[-d:]
	if len(f.buf)+len(payload) > MaxReassemblyBytes {
		r.stats.Overflow++
		r.drop(r.index[k])
		return nil, false
	}
	f.buf = append(f.buf, payload...)
	f.next += uint32(len(payload))
	return f.buf, true
}

// tcpDone ends the reassembly of the flow's ClientHello.
func (r *Reassembler) tcpDone(src, dst netip.AddrPort) {
	k := rkey{src: src, dst: dst}
	if i, ok := r.index[k]; ok {
		r.stats.Completed++
		r.drop(i)
	}
}
