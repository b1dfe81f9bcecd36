package rdpclient

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// xrdpConn is one RDP connection as xrdp and xrdp-sesman logged it.
type xrdpConn struct {
	// Peer is the TCP peer xrdp accepted (IPv4-mapped addresses unmapped).
	Peer netip.AddrPort
	// ClientName is TS_UD_CS_CORE clientName; Layout its keyboardLayout as
	// a KLID ("00000412").
	ClientName, Layout string
	// User and Display are those of the session the connection logged into
	// (Display ":10"); empty while at the login screen.
	User, Display string
	// SessionPID is sesman's process that waits for the session to end.
	SessionPID int
}

// maxLine bounds the part of a log line that is looked at; xrdp's lines
// are under 300 bytes.
const maxLine = 2048

// Messages of xrdp 0.9 (INFO unless noted) that carry client facts.
var (
	reReceived = regexp.MustCompile(`connection received from (\S+) port (\d{1,5})\b`)
	reTLS      = regexp.MustCompile(`^TLS connection established from (\S+) port (\d{1,5})\b`)
	reName     = regexp.MustCompile(`^Connected client computer name: (.*)$`)
	reLayout   = regexp.MustCompile(`Keyboard information sent by the RDP client,.*keylayout:\[0x([0-9a-fA-F]{1,8})\]`)
	reLogin    = regexp.MustCompile(`^login successful for user (\S+) on display (\d{1,6})\b`)
	reUser     = regexp.MustCompile(`^Client supplied username: (\S+)`) // DEBUG
)

// Fields of xrdp-sesman 0.9 session lines, e.g.
// "++ reconnected session: username u, display :10.0, session_pid 2206, ip ::ffff:127.0.0.1:52290 - socket: 12".
var (
	reSesIP      = regexp.MustCompile(`\bip (\S+):(\d{1,5}) - socket`)
	reSesUser    = regexp.MustCompile(`\buser ?name ([^,\s]+)`)
	reSesDisplay = regexp.MustCompile(`\bdisplay :(\d{1,6})`)
	reSesPID     = regexp.MustCompile(`\bsession_pid (\d{1,9})\b`)
)

// splitLine takes xrdp's "[20261122-04:40:12] [INFO ] " prefix and the
// optional "[pid:2756 tid:1407...] " (EnableProcessId=true) off a line;
// pid is 0 without one. A line without the prefix is taken whole.
func splitLine(line string) (pid int, msg string) {
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	msg = strings.TrimRight(line, "\r\n")
	for i := 0; i < 3 && strings.HasPrefix(msg, "["); i++ {
		end := strings.IndexByte(msg, ']')
		if end < 0 {
			break
		}
		group := msg[1:end]
		if i == 2 {
			p, ok := strings.CutPrefix(group, "pid:")
			if !ok {
				break
			}
			p, _, _ = strings.Cut(p, " ")
			pid, _ = strconv.Atoi(p)
		}
		msg = strings.TrimLeft(msg[end+1:], " ")
	}
	return pid, msg
}

// parsePeer parses xrdp's "::ffff:127.0.0.1" and "54321".
func parsePeer(addr, port string) (netip.AddrPort, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.AddrPort{}, false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap().WithZone(""), uint16(p)), true
}

// parseXrdpLog returns the connections an xrdp log records, oldest first.
//
// Without process ids in the log, a line is attributed to the connection
// logged last, switching to the peer each TLS line names; lines of
// connections accepted at the same moment can then be mixed up.
//
// With them (EnableProcessId=true) the listener logs "connection
// received" and the child forked for the connection everything after,
// the client's name and layout before the TLS line that names its peer.
// So a child's facts are gathered per process and joined to the peer of
// its TLS line; a child without one (RDP-layer security) takes the oldest
// connection no child has taken.
func parseXrdpLog(log string) []*xrdpConn {
	var conns []*xrdpConn
	var last *xrdpConn
	byPID := map[int]*xrdpConn{} // a connection of conns, or facts not yet joined to one
	var pending []int            // pids whose facts are not joined, in order of first line
	taken := map[*xrdpConn]bool{}
	listeners := map[int]bool{}
	find := func(p netip.AddrPort) *xrdpConn {
		for i := len(conns) - 1; i >= 0; i-- {
			if conns[i].Peer == p {
				return conns[i]
			}
		}
		c := &xrdpConn{Peer: p}
		conns = append(conns, c)
		return c
	}
	for line := range strings.Lines(log) {
		pid, msg := splitLine(line)
		if m := reReceived.FindStringSubmatch(msg); m != nil {
			if p, ok := parsePeer(m[1], m[2]); ok {
				last = &xrdpConn{Peer: p}
				conns = append(conns, last)
				if pid != 0 {
					listeners[pid] = true
				}
			}
			continue
		}
		if m := reTLS.FindStringSubmatch(msg); m != nil {
			if p, ok := parsePeer(m[1], m[2]); ok {
				c := find(p)
				last = c
				if pid != 0 && !listeners[pid] {
					if f := byPID[pid]; f != nil && !f.Peer.IsValid() {
						merge(c, f)
						pending = slices.DeleteFunc(pending, func(q int) bool { return q == pid })
					}
					byPID[pid], taken[c] = c, true
				}
			}
			continue
		}
		c := last
		if pid != 0 && !listeners[pid] {
			c = byPID[pid]
			if c == nil {
				c = &xrdpConn{}
				byPID[pid] = c
				pending = append(pending, pid)
			}
		}
		if c == nil {
			continue
		}
		if m := reName.FindStringSubmatch(msg); m != nil {
			c.ClientName = clean(m[1], 64)
		} else if m := reLayout.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.ParseUint(m[1], 16, 32)
			c.Layout = fmt.Sprintf("%08X", n)
		} else if m := reLogin.FindStringSubmatch(msg); m != nil {
			c.User, c.Display = clean(m[1], 64), ":"+m[2]
		} else if m := reUser.FindStringSubmatch(msg); m != nil && c.User == "" {
			c.User = clean(m[1], 64)
		}
	}
	for _, pid := range pending {
		for _, c := range conns {
			if !taken[c] {
				merge(c, byPID[pid])
				taken[c] = true
				break
			}
		}
	}
	return conns
}

// merge fills the empty facts of dst from src.
func merge(dst, src *xrdpConn) {
	dst.ClientName = cmpOr(dst.ClientName, src.ClientName)
	dst.Layout = cmpOr(dst.Layout, src.Layout)
	dst.User = cmpOr(dst.User, src.User)
	dst.Display = cmpOr(dst.Display, src.Display)
}

// sesmanSession is what xrdp-sesman logged about the session a peer used.
type sesmanSession struct {
	User, Display string
	PID           int
	// Ended is set by "++ terminated session" for every peer of that
	// session pid, so that a later process reusing the pid does not
	// revive it.
	Ended bool
}

// parseSesmanLog returns, per peer, the session sesman last logged for it:
// "created session", "Starting session", "reconnected session" and
// "terminated session" lines each carry the peer and some of user,
// display and session pid.
func parseSesmanLog(log string) map[netip.AddrPort]sesmanSession {
	out := map[netip.AddrPort]sesmanSession{}
	for line := range strings.Lines(log) {
		_, msg := splitLine(line)
		m := reSesIP.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		p, ok := parsePeer(m[1], m[2])
		if !ok {
			continue
		}
		s := out[p]
		if m := reSesUser.FindStringSubmatch(msg); m != nil {
			s.User = clean(m[1], 64)
		}
		if m := reSesDisplay.FindStringSubmatch(msg); m != nil {
			s.Display = ":" + m[1]
		}
		if m := reSesPID.FindStringSubmatch(msg); m != nil {
			s.PID, _ = strconv.Atoi(m[1])
		}
		s.Ended = false
		out[p] = s
		if s.PID > 0 && strings.Contains(msg, "terminated session") {
			// Logged with the peer that created the session; later
			// connections reconnected to the same process.
			for k, v := range out {
				if v.PID == s.PID {
					v.Ended = true
					out[k] = v
				}
			}
		}
	}
	return out
}

// clean drops control characters and invalid UTF-8 and keeps at most n runes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n])
	}
	return s
}
