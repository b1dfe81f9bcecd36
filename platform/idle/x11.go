package idle

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// This file holds the OS-independent half of the Linux reader: the few X11 requests needed
// to read the idle timer (connection setup, QueryExtension, MIT-SCREEN-SAVER QueryInfo) and
// the Xauthority file format. x11_linux.go finds the displays and their cookies; tests run
// both against a real Xvfb.

// x11Timeout bounds one display's whole exchange: a local X server answers in well under a
// millisecond, and a socket that hangs is someone else's process, not ours to wait on.
const x11Timeout = 2 * time.Second

// maxSetupReply bounds the connection setup reply (vendor, formats, screens, visuals): a
// real server's is a few KiB; the protocol allows 256 KiB.
const maxSetupReply = 1 << 18

// cookieName is the only X authorization protocol this reader speaks.
const cookieName = "MIT-MAGIC-COOKIE-1"

// errRefused marks a connection the server refused at setup (wrong or missing cookie), so the
// caller tries the next cookie.
var errRefused = errors.New("connection refused by X server")

// queryX11Idle speaks X11 over conn: connection setup with the given authorization (empty
// name for none), then QueryExtension("MIT-SCREEN-SAVER") and ScreenSaverQueryInfo on the
// first screen's root window, and returns the server's milliseconds since the last input.
// Replies are read bounded; the deadline comes from ctx or x11Timeout, whichever is sooner.
func queryX11Idle(ctx context.Context, conn net.Conn, authName string, authData []byte) (time.Duration, error) {
	deadline := time.Now().Add(x11Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	root, err := x11Setup(conn, authName, authData)
	if err != nil {
		return 0, err
	}
	major, err := x11QueryExtension(conn, "MIT-SCREEN-SAVER", 1)
	if err != nil {
		return 0, err
	}
	// ScreenSaverQueryInfo: major, minor 1, length 2 words, drawable.
	req := make([]byte, 8)
	req[0], req[1] = major, 1
	binary.LittleEndian.PutUint16(req[2:], 2)
	binary.LittleEndian.PutUint32(req[4:], root)
	if _, err := conn.Write(req); err != nil {
		return 0, fmt.Errorf("ScreenSaverQueryInfo: %w", err)
	}
	rep, err := x11Reply(conn, 2)
	if err != nil {
		return 0, fmt.Errorf("ScreenSaverQueryInfo: %w", err)
	}
	ms := binary.LittleEndian.Uint32(rep[16:20])
	return clamp(time.Duration(ms) * time.Millisecond), nil
}

// x11Setup sends the connection setup request (little-endian, protocol 11.0) and returns the
// root window of the first screen.
func x11Setup(conn io.ReadWriter, authName string, authData []byte) (uint32, error) {
	if len(authName) > 0xffff || len(authData) > 0xffff {
		return 0, errors.New("X authorization too long")
	}
	req := make([]byte, 12, 12+pad4(len(authName))+pad4(len(authData)))
	req[0] = 'l'
	binary.LittleEndian.PutUint16(req[2:], 11)
	binary.LittleEndian.PutUint16(req[4:], 0)
	binary.LittleEndian.PutUint16(req[6:], uint16(len(authName)))
	binary.LittleEndian.PutUint16(req[8:], uint16(len(authData)))
	req = append(req, authName...)
	req = append(req, make([]byte, pad4(len(authName))-len(authName))...)
	req = append(req, authData...)
	req = append(req, make([]byte, pad4(len(authData))-len(authData))...)
	if _, err := conn.Write(req); err != nil {
		return 0, fmt.Errorf("X connection setup: %w", err)
	}
	var head [8]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return 0, fmt.Errorf("X connection setup: %w", err)
	}
	n := int(binary.LittleEndian.Uint16(head[6:])) * 4
	if n > maxSetupReply {
		return 0, fmt.Errorf("X connection setup: reply of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return 0, fmt.Errorf("X connection setup: %w", err)
	}
	return parseSetup(head, body)
}

// parseSetup reads the connection setup reply: status, and on success the root window of the
// first SCREEN, which follows a 32-byte fixed part, the padded vendor string and the 8-byte
// pixmap FORMATs.
func parseSetup(head [8]byte, body []byte) (uint32, error) {
	switch head[0] {
	case 1: // Success
	case 0: // Failed: head[1] is the reason's length
		reason := body[:min(int(head[1]), len(body))]
		return 0, fmt.Errorf("%w: %q", errRefused, printable(reason))
	case 2: // Authenticate
		return 0, fmt.Errorf("%w: further authentication required", errRefused)
	default:
		return 0, fmt.Errorf("X connection setup: unknown status %d", head[0])
	}
	if len(body) < 32 {
		return 0, errors.New("X connection setup: short reply")
	}
	vendor := int(binary.LittleEndian.Uint16(body[16:]))
	screens := int(body[20])
	formats := int(body[21])
	off := 32 + pad4(vendor) + 8*formats
	if screens == 0 || off+4 > len(body) {
		return 0, errors.New("X connection setup: no screen in reply")
	}
	return binary.LittleEndian.Uint32(body[off:]), nil
}

// x11QueryExtension asks for an extension's major opcode; seq is the request's sequence number.
func x11QueryExtension(conn io.ReadWriter, name string, seq uint16) (byte, error) {
	req := make([]byte, 8, 8+pad4(len(name)))
	req[0] = 98 // QueryExtension
	binary.LittleEndian.PutUint16(req[2:], uint16(2+pad4(len(name))/4))
	binary.LittleEndian.PutUint16(req[4:], uint16(len(name)))
	req = append(req, name...)
	req = append(req, make([]byte, pad4(len(name))-len(name))...)
	if _, err := conn.Write(req); err != nil {
		return 0, fmt.Errorf("QueryExtension: %w", err)
	}
	rep, err := x11Reply(conn, seq)
	if err != nil {
		return 0, fmt.Errorf("QueryExtension %s: %w", name, err)
	}
	if rep[8] == 0 {
		return 0, fmt.Errorf("X server has no %s extension", name)
	}
	return rep[9], nil
}

// x11Reply reads packets until the reply to request seq: events are skipped, an error packet
// is an error. Only the fixed 32 bytes are returned; a longer reply's tail (bounded) is
// drained.
func x11Reply(r io.Reader, seq uint16) ([]byte, error) {
	for range 64 { // events before the reply: a handful at most, as we select none
		p := make([]byte, 32)
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, err
		}
		extra := 0
		switch p[0] {
		case 0:
			return nil, fmt.Errorf("X error code %d", p[1])
		case 1:
			extra = int(binary.LittleEndian.Uint32(p[4:]))
		case 35: // GenericEvent carries a length like a reply
			extra = int(binary.LittleEndian.Uint32(p[4:]))
		}
		if extra > maxSetupReply/4 {
			return nil, fmt.Errorf("X reply of %d words", extra)
		}
		if extra > 0 {
			if _, err := io.CopyN(io.Discard, r, int64(extra)*4); err != nil {
				return nil, err
			}
		}
		if p[0] == 1 {
			if got := binary.LittleEndian.Uint16(p[2:]); got != seq {
				return nil, fmt.Errorf("X reply to request %d, want %d", got, seq)
			}
			return p, nil
		}
	}
	return nil, errors.New("no X reply after 64 events")
}

// xauth is one Xauthority entry.
type xauth struct {
	Family  uint16
	Address string // host name for FamilyLocal
	Number  string // display number, "" for any
	Name    string // authorization protocol
	Data    []byte
}

// Xauthority families read: a local (unix socket) entry, or a wildcard.
const (
	familyLocal = 256
	familyWild  = 65535
)

// maxXauth bounds an Xauthority file read: a user's holds a few entries of ~50 bytes.
const maxXauth = 64 << 10

// parseXauthority reads the Xauthority format (libXau): entries of a big-endian uint16 family
// and four counted strings (address, display number, name, data). A truncated trailing
// entry ends the parse without an error, as libXau does.
func parseXauthority(b []byte) []xauth {
	var out []xauth
	field := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, false
		}
		f := b[2 : 2+n]
		b = b[2+n:]
		return f, true
	}
	for len(b) >= 2 && len(out) < 1024 {
		fam := binary.BigEndian.Uint16(b)
		b = b[2:]
		addr, ok1 := field()
		num, ok2 := field()
		name, ok3 := field()
		data, ok4 := field()
		if !ok1 || !ok2 || !ok3 || !ok4 {
			break
		}
		out = append(out, xauth{Family: fam, Address: string(addr), Number: string(num), Name: string(name), Data: append([]byte(nil), data...)})
	}
	return out
}

// cookies returns the MIT-MAGIC-COOKIE-1 values usable for local display n: local or
// wildcard entries for that display number (or any), those naming this host first. The agent
// runs on the display's own machine, so a local entry for another host name (the machine was
// renamed since login) is still worth a try.
func cookies(entries []xauth, n int, hostname string) [][]byte {
	var mine, other [][]byte
	num := strconv.Itoa(n)
	for _, e := range entries {
		if e.Name != cookieName || len(e.Data) == 0 || (e.Number != "" && e.Number != num) {
			continue
		}
		switch {
		case e.Family == familyWild, e.Family == familyLocal && e.Address == hostname:
			mine = append(mine, e.Data)
		case e.Family == familyLocal:
			other = append(other, e.Data)
		}
	}
	return append(mine, other...)
}

func pad4(n int) int { return (n + 3) &^ 3 }

// printable keeps the printable ASCII of an untrusted string, bounded.
func printable(b []byte) string {
	out := make([]byte, 0, min(len(b), 200))
	for _, c := range b {
		if len(out) == 200 {
			break
		}
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
	}
	return string(out)
}
