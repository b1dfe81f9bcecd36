// Package sniffer connects a packet source to the decoders and the relay analyzer: live from
// the capture layer in `farmwatch-agent run`, or offline from a pcap file in
// `farmwatch-agent sniff --pcap`.
package sniffer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/farmwatch/farmwatch/agent/capture"
	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/agent/packet"
)

// Live runs the capture loop until ctx ends.
type Live struct {
	src      capture.Source
	an       *netwatch.Analyzer
	log      *slog.Logger
	decoded  atomic.Uint64
	bad      atomic.Uint64
	done     chan struct{}
	stopOnce sync.Once
}

// Start opens the live capture and starts decoding into an. It returns the capture layer's
// error (not permitted, not implemented) so the caller can say why the sniffer is off.
func Start(ctx context.Context, opts capture.Options, an *netwatch.Analyzer, log *slog.Logger) (*Live, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src, err := capture.Open(opts)
	if err != nil {
		return nil, err
	}
	l := &Live{src: src, an: an, log: log, done: make(chan struct{})}
	go l.loop(ctx)
	return l, nil
}

func (l *Live) loop(ctx context.Context) {
	defer close(l.done)
	dec := packet.NewDecoder(packet.WithReassembler(packet.NewReassembler()))
	var p packet.Packet
	for {
		f, err := l.src.Read(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				l.log.Error("packet capture stopped", "err", err)
			}
			return
		}
		p = packet.Packet{}
		if err := dec.DecodeAt(packet.LinkType(f.Link), f.Data, f.Time, &p); err != nil {
			l.bad.Add(1)
			continue
		}
		l.decoded.Add(1)
		l.an.Observe(&p, f.Time)
	}
}

// Stats describe the live sniffer.
type Stats struct {
	Capture capture.Stats
	Decoded uint64
	Bad     uint64
}

// Stats returns the counters.
func (l *Live) Stats() Stats {
	return Stats{Capture: l.src.Stats(), Decoded: l.decoded.Load(), Bad: l.bad.Load()}
}

// Close stops the capture and waits for the loop.
func (l *Live) Close() error {
	var err error
	l.stopOnce.Do(func() {
		err = l.src.Close()
		<-l.done
	})
	return err
}

// ReadPcap runs the analysis offline over a pcap or pcapng file. It returns the number of
// packets read and decoded.
func ReadPcap(path string, an *netwatch.Analyzer) (read, decoded int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return 0, 0, fmt.Errorf("%s: not a capture file: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, err
	}
	var next func() ([]byte, time.Time, error)
	var link layers.LinkType
	if magic == [4]byte{0x0a, 0x0d, 0x0d, 0x0a} {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		link = r.LinkType()
		next = func() ([]byte, time.Time, error) {
			b, ci, err := r.ReadPacketData()
			return b, ci.Timestamp, err
		}
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		link = r.LinkType()
		next = func() ([]byte, time.Time, error) {
			b, ci, err := r.ReadPacketData()
			return b, ci.Timestamp, err
		}
	}
	lt, ok := linkTypes[link]
	if !ok {
		return 0, 0, fmt.Errorf("%s: link type %d is not supported (Ethernet, raw IP, loopback, Linux cooked)", path, link)
	}
	dec := packet.NewDecoder(packet.WithReassembler(packet.NewReassembler()))
	var p packet.Packet
	for {
		b, ts, err := next()
		if errors.Is(err, io.EOF) {
			return read, decoded, nil
		}
		if err != nil {
			return read, decoded, fmt.Errorf("%s: packet %d: %w", path, read+1, err)
		}
		read++
		p = packet.Packet{}
		if dec.DecodeAt(lt, b, ts, &p) == nil {
			decoded++
			an.Observe(&p, ts)
		}
	}
}

var linkTypes = map[layers.LinkType]packet.LinkType{
	layers.LinkTypeEthernet: packet.LinkEthernet,
	layers.LinkTypeRaw:      packet.LinkRaw,
	layers.LinkTypeIPv4:     packet.LinkRaw,
	layers.LinkTypeIPv6:     packet.LinkRaw,
	layers.LinkTypeNull:     packet.LinkLoop,
	layers.LinkTypeLoop:     packet.LinkLoop,
	layers.LinkTypeLinuxSLL: packet.LinkSLL,
	layers.LinkType(276):    packet.LinkSLL2,
	layers.LinkType(12):     packet.LinkRaw, // DLT_RAW on some systems
}
