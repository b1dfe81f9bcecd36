package rdpclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

const (
	// maxLogTail is how much of the end of each log is read. xrdp logs
	// about 3 KiB per connection at INFO, so this holds the last ~1000
	// connections; a session older than that is not reported.
	maxLogTail = 4 << 20
	// maxSmall bounds reads of ini files and /proc/PID files.
	maxSmall = 256 << 10
	// maxProcNet bounds each /proc/net/tcp read (150 bytes a socket).
	maxProcNet = 8 << 20
)

// Default configuration and log directory of Debian's and upstream's xrdp.
const (
	xrdpIni   = "/etc/xrdp/xrdp.ini"
	sesmanIni = "/etc/xrdp/sesman.ini"
	logDir    = "/var/log"
)

// xrdpProcs are the xrdp daemons of a system, by pid, with their command
// lines (NUL-separated argv).
type xrdpProcs struct {
	xrdp, sesman map[int][]string
}

// xrdpClients reads the Linux tree at root ("/" for the live system). listed, when not nil,
// are its processes as the caller just listed them: xrdp's daemons are picked from them
// instead of from every /proc/PID/comm.
func xrdpClients(ctx context.Context, root string, listed []Proc) ([]*pb.RdpClient, error) {
	var procs xrdpProcs
	var err error
	if listed != nil {
		procs = pickProcs(root, listed)
	} else {
		procs, err = scanProcs(ctx, root)
	}
	if err != nil {
		return nil, err
	}
	if len(procs.xrdp) == 0 && len(procs.sesman) == 0 {
		return nil, nil // no xrdp running: no live RDP client
	}
	var conns []*xrdpConn
	for _, p := range logPaths(root, xrdpIni, "xrdp.log", procs.xrdp) {
		b, err := readTail(fsroot.Path(root, p), maxLogTail)
		if err != nil {
			return nil, err
		}
		conns = append(conns, parseXrdpLog(string(b))...)
	}
	sessions := map[netip.AddrPort]sesmanSession{}
	for _, p := range logPaths(root, sesmanIni, "xrdp-sesman.log", procs.sesman) {
		b, err := readTail(fsroot.Path(root, p), maxLogTail)
		if err != nil {
			return nil, err
		}
		for k, v := range parseSesmanLog(string(b)) {
			sessions[k] = v
		}
	}
	if len(conns) == 0 {
		return nil, nil
	}
	peers, err := livePeers(ctx, root, procs.xrdp)
	if err != nil {
		return nil, err
	}
	return liveClients(conns, sessions, peers, func(pid int) bool { _, ok := procs.sesman[pid]; return ok }), nil
}

// liveClients joins xrdp's connections with sesman's sessions and keeps
// the live ones: those whose TCP connection an xrdp process still holds
// (peers), and those whose session's sesman process still runs and that
// are the last connection logged into that display (the client that
// drove a session now disconnected).
func liveClients(conns []*xrdpConn, sessions map[netip.AddrPort]sesmanSession, peers map[netip.AddrPort]bool, sesmanAlive func(int) bool) []*pb.RdpClient {
	lastOnDisplay := map[string]*xrdpConn{}
	for _, c := range conns {
		if s, ok := sessions[c.Peer]; ok {
			c.User = cmpOr(s.User, c.User)
			c.Display = cmpOr(s.Display, c.Display)
			if !s.Ended {
				c.SessionPID = s.PID
			}
		}
		if c.Display != "" {
			lastOnDisplay[c.Display] = c
		}
	}
	var out []*pb.RdpClient
	seen := map[netip.AddrPort]bool{}
	for i := len(conns) - 1; i >= 0; i-- {
		c := conns[i]
		if seen[c.Peer] {
			continue // an older connection from a reused peer port
		}
		live := peers[c.Peer] ||
			c.SessionPID > 0 && sesmanAlive(c.SessionPID) && lastOnDisplay[c.Display] == c
		if !live {
			continue
		}
		seen[c.Peer] = true
		out = append(out, &pb.RdpClient{
			Session:        c.Display,
			User:           c.User,
			ClientName:     c.ClientName,
			ClientAddress:  c.Peer.Addr().String(),
			KeyboardLayout: c.Layout,
			Source:         SourceXrdpLog,
		})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// scanProcs finds the xrdp and xrdp-sesman processes under root/proc. A
// process that exits meanwhile is skipped; a tree without proc has none.
func scanProcs(ctx context.Context, root string) (xrdpProcs, error) {
	procs := xrdpProcs{xrdp: map[int][]string{}, sesman: map[int][]string{}}
	ents, err := fsroot.ReadDir(fsroot.Path(root, "/proc"))
	if err != nil {
		return procs, err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return procs, err
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		comm, err := fsroot.ReadFile(fsroot.Path(root, fmt.Sprintf("/proc/%d/comm", pid)), 64)
		if err != nil {
			continue
		}
		procs.add(root, pid, strings.TrimSpace(string(comm)))
	}
	return procs, nil
}

// pickProcs is scanProcs over processes the caller already listed.
func pickProcs(root string, listed []Proc) xrdpProcs {
	procs := xrdpProcs{xrdp: map[int][]string{}, sesman: map[int][]string{}}
	for _, p := range listed {
		if p.PID > 0 {
			procs.add(root, p.PID, p.Name)
		}
	}
	return procs
}

// add records pid, with its command line, if comm names one of xrdp's daemons.
func (procs xrdpProcs) add(root string, pid int, comm string) {
	var m map[int][]string
	switch comm {
	case "xrdp":
		m = procs.xrdp
	case "xrdp-sesman":
		m = procs.sesman
	default:
		return
	}
	var argv []string
	if b, err := fsroot.ReadFile(fsroot.Path(root, fmt.Sprintf("/proc/%d/cmdline", pid)), 4096); err == nil {
		argv = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	m[pid] = argv
}

// logPaths returns the logs (paths on the scanned system) of one daemon:
// the LogFile of the ini each running process was given with -c/--config,
// and, when one runs without (or none is known), that of the default ini
// and the default log name. LogFile is relative to /var/log unless
// absolute, as in xrdp. A default log that no running daemon writes is
// left alone: it may hold an earlier xrdp's connections to the same display
// numbers, which would hide the live ones.
func logPaths(root, defIni, defLog string, procs map[int][]string) []string {
	inis := []string{}
	defaults := len(procs) == 0
	for _, argv := range procs {
		configured := false
		for i, a := range argv {
			v, ok := strings.CutPrefix(a, "--config=")
			if !ok && (a == "-c" || a == "--config") && i+1 < len(argv) {
				v, ok = argv[i+1], true
			}
			if ok && path.IsAbs(v) {
				inis = append(inis, path.Clean(v))
				configured = true
			}
		}
		defaults = defaults || !configured
	}
	if defaults {
		inis = append(inis, defIni)
	}
	var logs []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			logs = append(logs, p)
		}
	}
	for _, ini := range inis {
		b, err := fsroot.ReadFile(fsroot.Path(root, ini), maxSmall)
		if err != nil {
			continue
		}
		if f := iniValue(string(b), "Logging", "LogFile"); f != "" {
			if !path.IsAbs(f) {
				f = path.Join(logDir, f)
			}
			add(path.Clean(f))
		}
	}
	if defaults {
		add(path.Join(logDir, defLog))
	}
	return logs
}

// iniValue returns key in [section] of an xrdp-style ini file.
func iniValue(ini, section, key string) string {
	in := false
	for line := range strings.Lines(ini) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = strings.EqualFold(strings.Trim(line, "[]"), section)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if in && ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readTail reads the last limit bytes of a file, from the first whole line;
// a missing or unreadable file is empty.
func readTail(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if fsroot.Absent(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil
	}
	off := max(fi.Size()-limit, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		} else {
			b = nil
		}
	}
	return b, nil
}

// livePeers returns the remote ends of the established TCP connections
// that xrdp processes hold: the inodes of their socket fds looked up in
// the TCP tables of their network namespace. Without the right to list
// their fds (not root) it is empty.
func livePeers(ctx context.Context, root string, xrdp map[int][]string) (map[netip.AddrPort]bool, error) {
	inodes := map[string]bool{}
	netDir := "/proc/net"
	for pid := range xrdp {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fdDir := filepath.Join(root, "proc", strconv.Itoa(pid), "fd")
		ents, err := fsroot.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			l, err := os.Readlink(filepath.Join(fdDir, e.Name()))
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(l, "socket:["); ok {
				inodes[strings.TrimSuffix(ino, "]")] = true
				netDir = fmt.Sprintf("/proc/%d/net", pid)
			}
		}
	}
	peers := map[netip.AddrPort]bool{}
	if len(inodes) == 0 {
		return peers, nil
	}
	for _, t := range []string{"tcp", "tcp6"} {
		p := fsroot.Path(root, netDir+"/"+t)
		if _, err := os.Stat(p); err != nil {
			p = fsroot.Path(root, "/proc/net/"+t) // a captured tree without per-process net
		}
		b, err := fsroot.ReadFile(p, maxProcNet)
		if err != nil {
			if fsroot.Absent(err) {
				continue
			}
			return nil, err
		}
		for p := range established(b, inodes) {
			peers[p] = true
		}
	}
	return peers, nil
}

// tcpEstablished is TCP_ESTABLISHED in /proc/net/tcp's st column.
const tcpEstablished = "01"

// established yields the remote addresses of the established sockets of
// a /proc/net/tcp or tcp6 table whose inode is in inodes.
func established(table []byte, inodes map[string]bool) func(func(netip.AddrPort) bool) {
	return func(yield func(netip.AddrPort) bool) {
		sc := bufio.NewScanner(bytes.NewReader(table))
		sc.Buffer(make([]byte, 0, 512), 4096)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 10 || f[3] != tcpEstablished || !inodes[f[9]] {
				continue
			}
			if p, ok := procNetAddr(f[2]); ok && !yield(p) {
				return
			}
		}
	}
}

// procNetAddr parses "0100007F:1716" or a 32-digit IPv6 form: the
// address as 32-bit words in the kernel's (little-endian) byte order, the
// port in hex.
func procNetAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	b, err := hex.DecodeString(a)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}
