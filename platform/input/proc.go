package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/platform/usb"
)

// Event types and codes (linux/input-event-codes.h).
const (
	evKey = 0x01
	evRel = 0x02
	evAbs = 0x03

	absX = 0x00
	absY = 0x01
	relX = 0x00
	relY = 0x01

	btnToolFinger = 0x145
)

// maxWords bounds a bitmap; KEY_MAX (0x2ff) needs 12 64-bit words.
const maxWords = 16

// readProc reads ROOT/proc/bus/input/devices through os.Root, so a link
// in a captured tree cannot lead outside it.
func readProc(_ context.Context, root string) ([]Device, error) {
	if root == "" {
		root = "/"
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", root, err)
	}
	defer r.Close()
	const rel = "proc/bus/input/devices"
	f, err := r.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	truncated := len(b) > MaxFile
	if truncated {
		b = b[:MaxFile]
	}
	devs := parseDevices(b)
	if truncated && len(devs) > 0 {
		addFlags(&devs[len(devs)-1], "truncated")
	}
	return devs, nil
}

// parseDevices parses the text of /proc/bus/input/devices: one block of
// "X: ..." lines per device, blocks separated by blank lines.
//
//	I: Bus=0003 Vendor=1d6b Product=0104 Version=0100
//	N: Name="PiKVM PiKVM Composite Device"
//	P: Phys=usb-0000:00:14.0-1.2/input1
//	S: Sysfs=/devices/.../input/input21
//	H: Handlers=mouse2 event21
//	B: EV=1f
//	B: ABS=3
//
// Bitmaps are hex words, most significant first, each an unsigned long of
// the kernel (64-bit words: every platform the agent ships for is 64-bit).
// Unknown lines are ignored; bad ids and bitmaps are flagged.
func parseDevices(b []byte) []Device {
	var devs []Device
	var cur *Device
	var bm map[string][]uint64
	finish := func() {
		if cur == nil {
			return
		}
		ev := bm["EV"]
		key := bm["KEY"]
		cur.Absolute = bit(ev, evAbs) && bit(bm["ABS"], absX) && bit(bm["ABS"], absY)
		cur.Relative = bit(ev, evRel) && bit(bm["REL"], relX) && bit(bm["REL"], relY)
		cur.Keys = bit(ev, evKey) && len(key) > 0 && key[0]&0xFFFFFFFE == 0xFFFFFFFE
		cur.Touchpad = bit(ev, evKey) && bit(key, btnToolFinger)
		devs = append(devs, *cur)
		cur, bm = nil, nil
	}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			finish()
			continue
		}
		kind, rest, ok := strings.Cut(line, ": ")
		if !ok || len(kind) != 1 {
			continue
		}
		if cur == nil {
			cur, bm = &Device{}, map[string][]uint64{}
		}
		switch kind {
		case "I":
			parseIDs(cur, rest)
		case "N":
			v, _ := strings.CutPrefix(rest, "Name=")
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			cur.Name = clean(cur, v)
		case "P":
			v, _ := strings.CutPrefix(rest, "Phys=")
			cur.Phys = clean(cur, v)
		case "S":
			v, _ := strings.CutPrefix(rest, "Sysfs=")
			cur.Sysfs = clean(cur, v)
		case "H":
			v, _ := strings.CutPrefix(rest, "Handlers=")
			for _, h := range strings.Fields(v) {
				if len(cur.Handlers) < 64 {
					cur.Handlers = append(cur.Handlers, clean(cur, h))
				}
			}
		case "B":
			name, v, ok := strings.Cut(rest, "=")
			if !ok {
				addFlags(cur, "bad-bitmap")
				continue
			}
			words, ok := parseBitmap(v)
			if !ok {
				addFlags(cur, "bad-bitmap")
			}
			bm[name] = words
		}
	}
	finish()
	return devs
}

// parseIDs reads "Bus=0003 Vendor=1d6b Product=0104 Version=0100".
func parseIDs(d *Device, s string) {
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseUint(v, 16, 16)
		if !ok || err != nil {
			addFlags(d, "bad-id")
			continue
		}
		switch k {
		case "Bus":
			d.Bus = uint16(n)
		case "Vendor":
			d.Vendor = uint16(n)
		case "Product":
			d.Product = uint16(n)
		case "Version":
			d.Version = uint16(n)
		}
	}
}

// parseBitmap reads hex words, most significant first, into words least
// significant first. It keeps what it can read and reports false for
// anything else (a bad word, more than maxWords words).
func parseBitmap(s string) ([]uint64, bool) {
	fields := strings.Fields(s)
	ok := true
	if len(fields) > maxWords {
		fields, ok = fields[len(fields)-maxWords:], false
	}
	words := make([]uint64, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 16, 64)
		if err != nil {
			ok = false
			continue
		}
		words[len(fields)-1-i] = n
	}
	return words, ok
}

func bit(words []uint64, n int) bool {
	w := n / 64
	return w < len(words) && words[w]&(1<<(n%64)) != 0
}

func clean(d *Device, s string) string {
	s, flags := usb.SanitizeString(s)
	addFlags(d, flags...)
	return s
}

func addFlags(d *Device, flags ...string) {
	for _, f := range flags {
		if !slices.Contains(d.Flags, f) {
			d.Flags = append(d.Flags, f)
		}
	}
}
