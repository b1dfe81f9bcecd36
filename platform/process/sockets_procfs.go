package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
)

// inodeOwners maps a socket inode to the process holding it. A socket shared
// by several processes (a listener inherited across fork) goes to the lowest
// PID, as gopsutil's scan did.
type inodeOwners map[uint64]int32

// addFDs records the socket descriptors of the process whose /proc directory
// is dir: one directory read of dir/fd and one readlink per descriptor, the
// same work as gopsutil's scan but in the pass that reads the process anyway.
// A process whose descriptors cannot be read (another user's, when not
// privileged; gone) keeps no sockets.
func (o inodeOwners) addFDs(dir string, pid int32) {
	fdDir := dir + "/fd"
	f, err := os.Open(fdDir)
	if err != nil {
		return
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		target, err := os.Readlink(fdDir + "/" + n)
		if err != nil {
			continue
		}
		inode, ok := socketInode(target)
		if !ok {
			continue
		}
		if cur, seen := o[inode]; !seen || pid < cur {
			o[inode] = pid
		}
	}
}

// socketInode parses a descriptor link "socket:[12345]".
func socketInode(target string) (uint64, bool) {
	const prefix = "socket:["
	if len(target) < len(prefix)+2 || target[:len(prefix)] != prefix || target[len(target)-1] != ']' {
		return 0, false
	}
	n, err := strconv.ParseUint(target[len(prefix):len(target)-1], 10, 64)
	return n, err == nil
}

// inetTable is one /proc/net table of inet sockets.
type inetTable struct {
	file     string
	protocol string
	v6, tcp  bool
}

var inetTables = []inetTable{
	{"tcp", "tcp", false, true},
	{"tcp6", "tcp6", true, true},
	{"udp", "udp", false, false},
	{"udp6", "udp6", true, false},
}

// procNetTCPStates are the kernel's TCP states (include/net/tcp_states.h) by their
// hex code in /proc/net/tcp.
var procNetTCPStates = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
	7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
}

// readInetSockets reads procDir/net/{tcp,tcp6,udp,udp6} (the scanning
// process's network namespace) and returns the sockets whose inode has an
// owner, grouped by PID. A socket without a known owner (another user's when
// not privileged, TIME_WAIT, another namespace) is left out. Identical
// (protocol, local, remote, state) tuples are listed once. A missing v6 table
// (IPv6 disabled) is not an error.
func readInetSockets(procDir string, owners inodeOwners, buf []byte) (map[int32][]Socket, error) {
	out := make(map[int32][]Socket)
	type key struct {
		proto, local, remote, state string
		lport, rport                uint32
	}
	seen := make(map[key]bool)
	var errs []error
	for _, t := range inetTables {
		data, err := readAll(procDir+"/net/"+t.file, buf)
		if err != nil {
			if t.v6 && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			errs = append(errs, fmt.Errorf("list inet connections: %w", err))
			continue
		}
		buf = data[:0] // readAll may have grown it
		first := true
		for len(data) > 0 {
			var line []byte
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				line, data = data, nil
			}
			if first { // header
				first = false
				continue
			}
			s, pid, ok := parseInetLine(line, t, owners)
			if !ok {
				continue
			}
			k := key{s.Protocol, s.LocalAddress, s.RemoteAddress, s.State, s.LocalPort, s.RemotePort}
			if seen[k] {
				continue
			}
			seen[k] = true
			out[pid] = append(out[pid], s)
		}
	}
	return out, errors.Join(errs...)
}

// parseInetLine parses one line of /proc/net/tcp and its kin:
// "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...".
func parseInetLine(line []byte, t inetTable, owners inodeOwners) (Socket, int32, bool) {
	var f [10][]byte
	n := 0
	for n < len(f) {
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 {
			break
		}
		end := bytes.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		f[n], line = line[:end], line[end:]
		n++
	}
	if n < len(f) {
		return Socket{}, 0, false
	}
	inode, err := strconv.ParseUint(string(f[9]), 10, 64)
	if err != nil {
		return Socket{}, 0, false
	}
	pid, ok := owners[inode]
	if !ok || pid <= 0 {
		return Socket{}, 0, false
	}
	s := Socket{Protocol: t.protocol}
	if s.LocalAddress, s.LocalPort, ok = decodeInetAddress(f[1], t.v6); !ok {
		return Socket{}, 0, false
	}
	if s.RemoteAddress, s.RemotePort, ok = decodeInetAddress(f[2], t.v6); !ok {
		return Socket{}, 0, false
	}
	// Unconnected sockets have a wildcard remote end; say so with "".
	if s.RemotePort == 0 && (s.RemoteAddress == "0.0.0.0" || s.RemoteAddress == "::") {
		s.RemoteAddress = ""
	}
	if t.tcp {
		st, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err == nil && int(st) < len(procNetTCPStates) {
			s.State = procNetTCPStates[st]
		}
	}
	return s, pid, true
}

// decodeInetAddress decodes "0100007F:1F90" (IPv4, host byte order per
// 32-bit word; /proc prints the kernel's native words, little-endian on every
// architecture Go supports here) or its 32-hex-digit IPv6 form.
func decodeInetAddress(field []byte, v6 bool) (string, uint32, bool) {
	i := bytes.IndexByte(field, ':')
	if i < 0 {
		return "", 0, false
	}
	port, err := strconv.ParseUint(string(field[i+1:]), 16, 16)
	if err != nil {
		return "", 0, false
	}
	hex := field[:i]
	size := 4
	if v6 {
		size = 16
	}
	if len(hex) != 2*size {
		return "", 0, false
	}
	ip := make(net.IP, size)
	for w := 0; w < size; w += 4 {
		word, err := strconv.ParseUint(string(hex[2*w:2*w+8]), 16, 32)
		if err != nil {
			return "", 0, false
		}
		// The word was printed from memory in little-endian order.
		ip[w], ip[w+1], ip[w+2], ip[w+3] = byte(word), byte(word>>8), byte(word>>16), byte(word>>24)
	}
	return ip.String(), uint32(port), true
}

// readAll reads a whole file into buf, growing it as needed (a /proc/net
// table can exceed any fixed buffer); the result may alias buf.
func readAll(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
	}
}
