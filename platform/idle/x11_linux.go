package idle

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// maxProcFile bounds a read of /proc/PID/environ or cmdline.
const maxProcFile = 256 << 10

// maxCookieTries bounds the connections made to one display.
const maxCookieTries = 8

func idle(ctx context.Context) (Reading, error) {
	return x11Idle(ctx, "/")
}

// x11Idle reads every X display found under root ("/" the live system; a captured tree in
// tests, whose sockets are then dialled by path only).
func x11Idle(ctx context.Context, root string) (Reading, error) {
	displays := x11Displays(root)
	if len(displays) == 0 {
		return Reading{}, fmt.Errorf("%w: no X display", ErrNoSession)
	}
	auth := x11Auth(root)
	host, _ := os.Hostname()
	r := Reading{Source: "x11-screensaver", Idle: MaxIdle}
	var errs []error
	dialOnly := true
	for _, n := range displays {
		d, err := displayIdle(ctx, root, n, auth[n], host)
		if err != nil {
			var dialErr *net.OpError
			if !errors.As(err, &dialErr) || dialErr.Op != "dial" {
				dialOnly = false
			}
			errs = append(errs, fmt.Errorf("display :%d: %w", n, err))
			continue
		}
		r.Sessions++
		r.Idle = min(r.Idle, d)
	}
	if r.Sessions > 0 {
		return r, nil
	}
	if dialOnly { // only stale sockets: no X server is running
		return Reading{}, fmt.Errorf("%w: %w", ErrNoSession, errors.Join(errs...))
	}
	return Reading{}, errors.Join(errs...)
}

// displayIdle tries display n with each candidate cookie, then without one (an X server
// started without -auth accepts anyone). A refused setup moves to the next cookie; any other
// error ends the display.
func displayIdle(ctx context.Context, root string, n int, files []authFile, host string) (time.Duration, error) {
	var tried [][]byte
	for _, f := range files {
		b, err := readOwned(f.path(), f.uid)
		if err != nil {
			continue
		}
		for _, c := range cookies(parseXauthority(b), n, host) {
			if !slices.ContainsFunc(tried, func(t []byte) bool { return bytes.Equal(t, c) }) {
				tried = append(tried, c)
			}
		}
	}
	if len(tried) > maxCookieTries {
		tried = tried[:maxCookieTries]
	}
	tried = append(tried, nil) // no authorization last
	var last error
	for _, c := range tried {
		conn, err := dialDisplay(ctx, root, n)
		if err != nil {
			return 0, err
		}
		name := cookieName
		if c == nil {
			name = ""
		}
		d, err := queryX11Idle(ctx, conn, name, c)
		conn.Close()
		if err == nil {
			return d, nil
		}
		last = err
		if !errors.Is(err, errRefused) {
			return 0, err
		}
	}
	return 0, last
}

// dialDisplay connects to display n: on the live system to the abstract socket first (seen
// even when the agent's service has a private /tmp), then to the socket file.
func dialDisplay(ctx context.Context, root string, n int) (net.Conn, error) {
	var d net.Dialer
	d.Timeout = x11Timeout
	name := "/tmp/.X11-unix/X" + strconv.Itoa(n)
	if fsroot.Live(root) {
		if c, err := d.DialContext(ctx, "unix", "@"+name); err == nil {
			return c, nil
		}
	}
	return d.DialContext(ctx, "unix", fsroot.Path(root, name))
}

// x11Displays lists the display numbers with a socket in /tmp/.X11-unix or, on the live
// system, an abstract or path socket of that name in /proc/net/unix; sorted.
func x11Displays(root string) []int {
	var out []int
	add := func(name string) {
		if n, ok := strings.CutPrefix(name, "X"); ok {
			if v, err := strconv.Atoi(n); err == nil && v >= 0 && v < 1<<16 && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	if ents, err := os.ReadDir(fsroot.Path(root, "/tmp/.X11-unix")); err == nil {
		for _, e := range ents {
			if e.Type()&os.ModeSocket != 0 {
				add(e.Name())
			}
		}
	}
	if f, err := os.Open(fsroot.Path(root, "/proc/net/unix")); err == nil {
		sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 8 {
				continue
			}
			p := strings.TrimPrefix(fields[len(fields)-1], "@")
			if dir, name := filepath.Split(p); dir == "/tmp/.X11-unix/" {
				add(name)
			}
		}
		f.Close()
	}
	slices.Sort(out)
	return out
}

// authFile is a candidate Xauthority file, with the uid of the process that named it: a file
// is only read if that uid owns it, so a user cannot make the agent (root) read someone
// else's file by pointing XAUTHORITY at it.
type authFile struct {
	root string // the process's root: /proc/PID/root on the live system
	name string
	uid  uint32
}

func (a authFile) path() string { return filepath.Join(a.root, filepath.Clean("/"+a.name)) }

// x11Auth scans /proc for the Xauthority files of each display: the display server's -auth
// argument (the file it reads its cookie from) first, then the XAUTHORITY (or
// $HOME/.Xauthority) of every process whose DISPLAY is that local display.
func x11Auth(root string) map[int][]authFile {
	servers := map[int][]authFile{}
	clients := map[int][]authFile{}
	ents, err := os.ReadDir(fsroot.Path(root, "/proc"))
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		dir := fsroot.Path(root, "/proc/"+e.Name())
		fi, err := os.Stat(dir)
		if err != nil {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		procRoot := root
		if fsroot.Live(root) {
			procRoot = filepath.Join(dir, "root")
		}
		if b, err := readBounded(filepath.Join(dir, "cmdline")); err == nil {
			if n, file, ok := serverAuth(strings.Split(string(b), "\x00")); ok {
				servers[n] = append(servers[n], authFile{procRoot, file, st.Uid})
			}
		}
		if b, err := readBounded(filepath.Join(dir, "environ")); err == nil {
			if n, file, ok := clientAuth(strings.Split(string(b), "\x00")); ok {
				clients[n] = append(clients[n], authFile{procRoot, file, st.Uid})
			}
		}
	}
	out := map[int][]authFile{}
	for n, fs := range servers {
		out[n] = append(out[n], fs...)
	}
	for n, fs := range clients {
		for _, f := range fs {
			if !slices.Contains(out[n], f) && len(out[n]) < 4*maxCookieTries {
				out[n] = append(out[n], f)
			}
		}
	}
	return out
}

// serverAuth recognises an X server's command line (Xorg, Xvfb, Xwayland, Xvnc...): an
// argument ":N" and "-auth FILE".
func serverAuth(argv []string) (int, string, bool) {
	n, file := -1, ""
	for i, a := range argv {
		if v, ok := strings.CutPrefix(a, ":"); ok {
			if d, err := strconv.Atoi(v); err == nil && d >= 0 {
				n = d
			}
		}
		if a == "-auth" && i+1 < len(argv) {
			file = argv[i+1]
		}
	}
	return n, file, n >= 0 && file != ""
}

// clientAuth reads a process environment: a local DISPLAY (":N", ":N.S", "unix:N") and the
// Xauthority it would use.
func clientAuth(env []string) (int, string, bool) {
	n, xa, home := -1, "", ""
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "DISPLAY":
			n = localDisplay(v)
		case "XAUTHORITY":
			xa = v
		case "HOME":
			home = v
		}
	}
	if xa == "" && home != "" {
		xa = home + "/.Xauthority"
	}
	return n, xa, n >= 0 && strings.HasPrefix(xa, "/")
}

// localDisplay returns N for a DISPLAY naming a local display, -1 otherwise (a TCP or ssh
// forwarded display, "localhost:10.0", is another machine's user).
func localDisplay(v string) int {
	host, rest, ok := strings.Cut(v, ":")
	if !ok || (host != "" && host != "unix") {
		return -1
	}
	num, _, _ := strings.Cut(rest, ".")
	d, err := strconv.Atoi(num)
	if err != nil || d < 0 {
		return -1
	}
	return d
}

// readOwned reads a regular file owned by uid, bounded, without blocking on a FIFO or device.
func readOwned(path string, uid uint32) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || !ok || st.Uid != uid {
		return nil, fmt.Errorf("%s: not a regular file of uid %d", path, uid)
	}
	return io.ReadAll(io.LimitReader(f, maxXauth))
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxProcFile))
}
