// Package probe recognises remote-desktop protocols by what a listener on this machine says, so
// that a VNC or RDP server is found even when its binary was renamed or forked. It only ever
// connects to the machine's own listeners, reads a few bytes and hangs up.
package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"time"
)

// Protocol is a recognised remote-access protocol.
type Protocol string

// Protocols the probe recognises.
const (
	None Protocol = ""
	RFB  Protocol = "rfb" // VNC (RFC 6143)
	RDP  Protocol = "rdp" // Remote Desktop Protocol (MS-RDPBCGR)
)

// Result is what a listener turned out to be.
type Result struct {
	Protocol Protocol
	// Banner is the protocol's own greeting, e.g. "RFB 003.008", or the RDP negotiation result.
	Banner string
	// Silent is true when the listener said nothing at all in time: a slow or busy server may
	// answer another time, so the result is worth retrying.
	Silent bool
}

// rdpConnectionRequest is an X.224 Connection Request (TPKT + X.224 CR + RDP_NEG_REQ asking for
// TLS and CredSSP), what every RDP client sends first (MS-RDPBCGR 2.2.1.1).
var rdpConnectionRequest = []byte{
	0x03, 0x00, 0x00, 0x13, // TPKT: version 3, length 19
	0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, // X.224 CR: LI 14, CR code, dst ref, src ref, class 0
	0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00, // RDP_NEG_REQ: type 1, flags 0, length 8, protocols TLS|HYBRID
}

// Identify connects to addr (host:port on this machine), waits up to wait for a server greeting
// (RFB servers speak first), and otherwise sends an RDP connection request and reads the reply.
// It costs one loopback connection and at most 2×wait.
func Identify(ctx context.Context, addr string, wait time.Duration) (Result, error) {
	d := net.Dialer{Timeout: wait}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{}, fmt.Errorf("probe %s: %w", addr, err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	n, err := readSome(conn, buf)
	if n > 0 {
		if v, ok := ParseRFBGreeting(buf[:n]); ok {
			return Result{Protocol: RFB, Banner: v}, nil
		}
		return Result{}, nil // speaks first, but not RFB
	}
	if !isTimeout(err) {
		return Result{}, nil // closed on us: nothing we recognise
	}
	_ = conn.SetWriteDeadline(time.Now().Add(wait))
	if _, err := conn.Write(rdpConnectionRequest); err != nil {
		return Result{}, nil
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	n, err = readSome(conn, buf)
	if n == 0 && isTimeout(err) {
		return Result{Silent: true}, nil
	}
	if v, ok := ParseRDPConfirm(buf[:n]); ok {
		return Result{Protocol: RDP, Banner: v}, nil
	}
	// A slow RFB server (x11vnc polls its socket every ~100 ms) greets only now.
	if v, ok := ParseRFBGreeting(buf[:n]); ok {
		return Result{Protocol: RFB, Banner: v}, nil
	}
	return Result{}, nil
}

// readSome reads until the buffer has a full RFB greeting (12 bytes) or an RDP reply header, or
// the deadline passes.
func readSome(conn net.Conn, buf []byte) (int, error) {
	n := 0
	for n < 12 {
		m, err := conn.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if n >= 4 && buf[0] == 0x03 && n >= int(buf[2])<<8|int(buf[3]) {
			return n, nil // a whole TPKT
		}
	}
	return n, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var rfbGreeting = regexp.MustCompile(`^RFB \d{3}\.\d{3}\n`)

// ParseRFBGreeting recognises an RFB ProtocolVersion message ("RFB 003.008\n").
func ParseRFBGreeting(b []byte) (string, bool) {
	if len(b) < 12 || !rfbGreeting.Match(b[:12]) {
		return "", false
	}
	return string(b[:11]), true
}

// ParseRDPConfirm recognises an X.224 Connection Confirm in a TPKT, with the RDP negotiation
// response or failure when present (MS-RDPBCGR 2.2.1.2).
func ParseRDPConfirm(b []byte) (string, bool) {
	if len(b) < 11 || b[0] != 0x03 || b[1] != 0x00 {
		return "", false
	}
	tpktLen := int(b[2])<<8 | int(b[3])
	if tpktLen < 11 || tpktLen > len(b) {
		return "", false
	}
	li := int(b[4])
	if b[5]&0xf0 != 0xd0 || li+5 > tpktLen {
		return "", false
	}
	neg := b[11:tpktLen]
	if len(neg) >= 8 {
		switch neg[0] {
		case 0x02: // RDP_NEG_RSP
			return fmt.Sprintf("RDP negotiation response, protocol %s", rdpProtocol(neg[4])), true
		case 0x03: // RDP_NEG_FAILURE
			return fmt.Sprintf("RDP negotiation failure, code %d", neg[4]), true
		}
	}
	if bytes.Equal(b[5:6], []byte{0xd0}) {
		return "X.224 connection confirm (standard RDP security)", true
	}
	return "", false
}

func rdpProtocol(p byte) string {
	switch p {
	case 0:
		return "standard RDP security"
	case 1:
		return "TLS"
	case 2:
		return "CredSSP"
	case 8:
		return "RDSTLS"
	}
	return fmt.Sprintf("0x%02x", p)
}
