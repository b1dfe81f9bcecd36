package collector

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/peer"
)

// connTracker remembers the accepted connections of a listener by remote address, so that a
// call's peer can be mapped back to its TCP connection and the kernel asked for the round trip
// it measured on it. The measurement is the collector's own: nothing the device says enters it.
// It also caps the connections open at once (Limits.MaxConnections): at the cap, Accept waits
// for one to close and new ones wait in the kernel's backlog, so a fleet reconnecting at once
// cannot take the collector's memory.
type connTracker struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	conns     map[string]net.Conn
}

type trackedConn struct {
	net.Conn
	t    *connTracker
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		if c.t.conns[c.RemoteAddr().String()] == c {
			delete(c.t.conns, c.RemoteAddr().String())
		}
		c.t.mu.Unlock()
		<-c.t.slots
	})
	return c.Conn.Close()
}

func (t *connTracker) Accept() (net.Conn, error) {
	select {
	case t.slots <- struct{}{}:
	case <-t.closed:
		return nil, net.ErrClosed
	}
	c, err := t.Listener.Accept()
	if err != nil {
		<-t.slots
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	t.conns[c.RemoteAddr().String()] = tc
	t.mu.Unlock()
	return tc, nil
}

func (t *connTracker) Close() error {
	t.closeOnce.Do(func() { close(t.closed) })
	return t.Listener.Close()
}

func (t *connTracker) lookup(addr string) net.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.conns[addr].(*trackedConn); ok {
		return c.Conn
	}
	return nil
}

// Listen wraps the gRPC listener so that the collector can measure each device's round trip.
// Serve the collector's gRPC server on the returned listener.
func (c *Collector) Listen(l net.Listener) net.Listener {
	limits := Limits{}.withDefaults()
	if c.limits != nil {
		limits = c.limits.l
	}
	t := &connTracker{Listener: l, conns: map[string]net.Conn{}, slots: make(chan struct{}, limits.MaxConnections), closed: make(chan struct{})}
	c.mu.Lock()
	c.trackers = append(c.trackers, t)
	c.mu.Unlock()
	return t
}

// OpenConnections counts the agent connections open on the listeners of Listen.
func (c *Collector) OpenConnections() int {
	c.mu.Lock()
	trackers := c.trackers
	c.mu.Unlock()
	n := 0
	for _, t := range trackers {
		t.mu.Lock()
		n += len(t.conns)
		t.mu.Unlock()
	}
	return n
}

// measureRTT returns the kernel's smallest round-trip estimate for the call's connection.
func (c *Collector) measureRTT(ctx context.Context) (time.Duration, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return 0, false
	}
	c.mu.Lock()
	trackers := c.trackers
	c.mu.Unlock()
	for _, t := range trackers {
		if conn := t.lookup(p.Addr.String()); conn != nil {
			return connRTT(conn)
		}
	}
	return 0, false
}
