package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	// maxFile bounds reads of /proc/PID files; a command line longer than
	// this is cut.
	maxFile = 64 << 10
	// maxPasswd bounds the read of /etc/passwd.
	maxPasswd = 4 << 20
	// userHZ is the kernel's USER_HZ, the unit of starttime in
	// /proc/PID/stat. It is 100 on every Linux architecture Go supports.
	userHZ = 100
)

// readProcfs reads the processes of a Linux /proc under root. It is pure file
// parsing and builds on every OS, so captured trees can be read anywhere.
// With sockets, it also walks each /proc/PID/fd once in the same pass and
// attaches the inet sockets of /proc/net/{tcp,tcp6,udp,udp6} to their owners
// (see sockets_procfs.go); a failed socket read still returns the processes,
// with the error.
func readProcfs(root string, sockets bool) ([]Process, Counts, error) {
	if root == "" {
		root = "/"
	}
	procDir := filepath.Join(root, "proc")
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil, Counts{}, fmt.Errorf("read %s: %w", procDir, err)
	}
	boot := bootTime(filepath.Join(procDir, "stat"))
	users := passwd(filepath.Join(root, "etc", "passwd"))
	buf := make([]byte, maxFile)
	out := make([]Process, 0, len(entries))
	var counts Counts
	var owners inodeOwners
	if sockets {
		owners = make(inodeOwners)
	}
	for _, e := range entries {
		pid, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil || pid <= 0 {
			continue
		}
		dir := procDir + string(filepath.Separator) + e.Name()
		p, ok, partial, kthread := readPID(dir, int32(pid), boot, users, buf)
		if ok && owners != nil && !kthread { // a kernel thread has no descriptors
			owners.addFDs(dir, int32(pid))
		}
		switch {
		case !ok:
			counts.Vanished++
		case partial:
			counts.Partial++
		}
		if ok {
			out = append(out, p)
		}
	}
	if owners == nil {
		return out, counts, nil
	}
	byPID, err := readInetSockets(procDir, owners, buf)
	for i := range out {
		out[i].Sockets = byPID[out[i].PID]
	}
	return out, counts, err
}

// readPID reads one process; ok is false when it has gone, partial true when access to its
// executable was denied. A kernel thread (kthread) is read from its stat alone: it runs as
// root, with no command line, executable or descriptors, which saves four of the five reads
// for each of the 50-200 kernel threads of a Linux machine.
func readPID(dir string, pid int32, boot time.Time, users map[uint32]string, buf []byte) (p Process, ok, partial, kthread bool) {
	stat, err := readInto(dir+"/stat", buf)
	if err != nil {
		return p, false, false, false // exited, or not a process directory
	}
	p.PID = pid
	var ticks, flags uint64
	p.Name, p.PPID, ticks, flags, ok = parseStat(stat)
	if !ok {
		return p, false, false, false
	}
	if !boot.IsZero() {
		p.Started = boot.Add(time.Duration(ticks) * (time.Second / userHZ))
	}
	if flags&pfKthread != 0 {
		p.Username = users[0]
		return p, true, false, true
	}
	if status, err := readInto(dir+"/status", buf); err == nil {
		if uid, ok := statusUID(status); ok {
			p.Username = users[uid]
		}
	}
	if cmdline, err := readInto(dir+"/cmdline", buf); err == nil {
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		p.CommandLine = strings.TrimSpace(strings.Join(args, " "))
		// comm is cut to 15 bytes; argv[0] usually has the whole name.
		if len(p.Name) == 15 && args[0] != "" {
			if base := filepath.Base(args[0]); strings.HasPrefix(base, p.Name) {
				p.Name = base
			}
		}
	}
	p.Executable, err = os.Readlink(dir + "/exe")
	return p, true, errors.Is(err, fs.ErrPermission), false
}

// pfKthread is the kernel's PF_KTHREAD task flag.
const pfKthread = 0x00200000

// parseStat parses /proc/PID/stat: "pid (comm) state ppid ... flags ... starttime ...".
// comm may hold spaces and parentheses, so it ends at the last ')'.
func parseStat(stat []byte) (comm string, ppid int32, starttime, flags uint64, ok bool) {
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return "", 0, 0, 0, false
	}
	comm = string(stat[open+1 : end])
	// Fields after comm: state(3) ppid(4) pgrp session tty_nr tpgid flags(9) ... starttime(22).
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 20 {
		return "", 0, 0, 0, false
	}
	pp, err := strconv.ParseInt(fields[1], 10, 32)
	if err != nil {
		return "", 0, 0, 0, false
	}
	flags, _ = strconv.ParseUint(fields[6], 10, 64)
	starttime, _ = strconv.ParseUint(fields[19], 10, 64)
	return comm, int32(pp), starttime, flags, true
}

// statusUID returns the real uid from /proc/PID/status ("Uid: r e s fs").
func statusUID(status []byte) (uint32, bool) {
	_, rest, ok := bytes.Cut(status, []byte("\nUid:"))
	if !ok {
		return 0, false
	}
	fields := strings.Fields(string(rest[:max(0, bytes.IndexByte(rest, '\n'))]))
	if len(fields) == 0 {
		return 0, false
	}
	uid, err := strconv.ParseUint(fields[0], 10, 32)
	return uint32(uid), err == nil
}

// bootTime reads "btime" from /proc/stat; zero when unknown.
func bootTime(path string) time.Time {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxFile))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(s, 0)
			}
		}
	}
	return time.Time{}
}

// passwd maps uids to names from an /etc/passwd file. Pure-Go os/user would
// reparse the file per lookup and cannot see a captured tree's users.
func passwd(path string) map[uint32]string {
	users := make(map[uint32]string)
	f, err := os.Open(path)
	if err != nil {
		return users
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxPasswd))
	for sc.Scan() {
		// name:password:uid:gid:gecos:home:shell
		fields := strings.SplitN(sc.Text(), ":", 4)
		if len(fields) < 4 || fields[0] == "" || strings.HasPrefix(fields[0], "#") {
			continue
		}
		uid, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := users[uint32(uid)]; !dup { // first entry wins, as in getpwuid
			users[uint32(uid)] = fields[0]
		}
	}
	return users
}

// readInto reads at most len(buf) bytes of path into buf. The result aliases
// buf and is valid until the next call.
func readInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return buf[:n], err
}
