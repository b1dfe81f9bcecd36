package idle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// This file holds the OS-independent half of the Linux reader: the few X11 requests needed
// to read the idle timer (connection setup, QueryExtension, MIT-SCREEN-SAVER QueryInfo) and
// the Xauthority file format. x11_linux.go finds the displays and their cookies; tests run
// both against a real Xvfb.

// maxSetupReply bounds the connection setup reply (vendor, formats, screens, visuals): a
// real server's is a few KiB; the protocol allows 256 KiB.
const maxSetupReply = 1 << 18

// cookieName is the only X authorization protocol this reader speaks.
const cookieName = "MIT-MAGIC-COOKIE-1"

// errRefused marks a connection the server refused at setup (wrong or missing cookie), so the
// caller tries the next cookie.
var errRefused = errors.New("connection refused by X server")

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
		return 0, fmt.Errorf("x11: connection setup: unknown status %d", head[0])
	}
	if len(body) < 32 {
		return 0, errors.New("x11: connection setup: short reply")
	}
	vendor := int(binary.LittleEndian.Uint16(body[16:]))
	screens := int(body[20])
	formats := int(body[21])
	off := 32 + pad4(vendor) + 8*formats
	if screens == 0 || off+4 > len(body) {
		return 0, errors.New("x11: connection setup: no screen in reply")
	}
	return binary.LittleEndian.Uint32(body[off:]), nil
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
			return nil, fmt.Errorf("x11: error code %d", p[1])
		case 1:
			extra = int(binary.LittleEndian.Uint32(p[4:]))
		case 35: // GenericEvent carries a length like a reply
			extra = int(binary.LittleEndian.Uint32(p[4:]))
		}
		if extra > maxSetupReply/4 {
			return nil, fmt.Errorf("x11: reply of %d words", extra)
		}
		if extra > 0 {
			if _, err := io.CopyN(io.Discard, r, int64(extra)*4); err != nil {
				return nil, err
			}
		}
		if p[0] == 1 {
			if got := binary.LittleEndian.Uint16(p[2:]); got != seq {
				return nil, fmt.Errorf("x11: reply to request %d, want %d", got, seq)
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
