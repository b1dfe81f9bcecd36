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
	r, err := newCapReader(f)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	dec := packet.NewDecoder(packet.WithReassembler(packet.NewReassembler()))
	var p packet.Packet
	for {
		b, ts, lt, err := r.next()
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
