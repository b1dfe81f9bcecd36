package detectors

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Helpers shared by the detectors that read the process and socket facts.

func isTCP(s *pb.Socket) bool { return s.GetProtocol() == "tcp" || s.GetProtocol() == "tcp6" }

func isListen(s *pb.Socket) bool { return isTCP(s) && s.GetState() == "LISTEN" }

func isEstablished(s *pb.Socket) bool {
	return isTCP(s) && s.GetState() == "ESTABLISHED" && s.GetRemotePort() != 0
}

func hostPort(addr string, port uint32) string {
	return net.JoinHostPort(plainAddr(addr), strconv.Itoa(int(port)))
}

// plainAddr writes IPv4-mapped IPv6 addresses (::ffff:192.0.2.1, seen on dual-stack
// listeners) as plain IPv4, so a peer reads the same whichever socket family accepted it.
func plainAddr(a string) string {
	if ip, err := netip.ParseAddr(a); err == nil && ip.Is4In6() {
		return ip.Unmap().String()
	}
	return a
}

// dialAddr is where a probe reaches a listener on this machine: loopback for wildcard binds.
func dialAddr(s *pb.Socket) string {
	a := s.GetLocalAddress()
	switch a {
	case "", "0.0.0.0", "*":
		a = "127.0.0.1"
	case "::", "[::]":
		a = "::1"
	}
	return hostPort(a, s.GetLocalPort())
}

// baseName is the last element of a path in either slash style.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// names returns the lowercase names a process is known by: its name, its executable's base
// name, and the base name of argv[0].
func names(p *pb.Process) []string {
	out := []string{strings.ToLower(p.GetName())}
	add := func(n string) {
		n = strings.ToLower(strings.TrimSuffix(n, " (deleted)"))
		if n == "" {
			return
		}
		for _, o := range out {
			if o == n {
				return
			}
		}
		out = append(out, n)
	}
	add(baseName(p.GetExecutable()))
	if f := strings.Fields(p.GetCommandLine()); len(f) > 0 {
		add(baseName(f[0]))
	}
	return out
}

func clipEvidence(s string) string {
	const max = 1024
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
