package usb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// maxAttr bounds the read of one sysfs attribute (the kernel's own limit is
// a page); strings are then cut to MaxString.
const maxAttr = 4 << 10

// hidDirName is the name of a HID device directory under a USB interface:
// bus:vendor:product.instance, "0003:1D6B:0104.0001".
var hidDirName = regexp.MustCompile(`^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$`)

// readSysfs lists the devices under ROOT/sys/bus/usb/devices. It builds on
// every OS so that captured trees can be read anywhere. Entries there are
// relative symlinks into ROOT/sys/devices; they are followed through
// os.Root, so no link can lead outside root: one that tries (or any
// absolute link in a captured tree) is reported as an error and its entry
// skipped, while the other devices are still read. Names without
// ':' are devices ("1-1.2", "usb1"), names with one are interfaces
// ("1-1.2:1.0") of the device named before the ':'.
//
// Per device: idVendor idProduct bcdDevice version bDeviceClass
// bDeviceSubClass bDeviceProtocol manufacturer product serial configuration
// bMaxPower speed, and Raw's attributes. Per interface: bInterfaceNumber
// bInterfaceClass bInterfaceSubClass bInterfaceProtocol interface, the
// driver link, and NNNN:VVVV:PPPP.IIII/report_descriptor.
func readSysfs(ctx context.Context, root string) ([]Device, error) {
	if root == "" {
		root = "/"
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", root, err)
	}
	defer r.Close()
	const dir = "sys/bus/usb/devices"
	names, err := readDirNames(r, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // no USB bus: nothing attached
		}
		return nil, err
	}
	s := sysfs{r: r}
	var devs []Device
	byName := map[string]int{}
	var ifaces []string
	for _, n := range names {
		// One error for an entry that cannot be entered (a link leaving the
		// tree, a device gone meanwhile), rather than one per attribute.
		if fi, err := r.Stat(dir + "/" + n); err != nil || !fi.IsDir() {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.errs = append(s.errs, fmt.Errorf("read %s/%s: %w", dir, n, err))
			}
			continue
		}
		if strings.Contains(n, ":") {
			ifaces = append(ifaces, n)
			continue
		}
		if err := ctx.Err(); err != nil {
			return devs, err
		}
		byName[n] = len(devs)
		devs = append(devs, s.device(dir+"/"+n, n))
	}
	for _, n := range ifaces {
		i, ok := byName[s.owner(dir, n)]
		if !ok {
			continue // interface of a device that went away meanwhile
		}
		d := &devs[i]
		d.Interfaces = append(d.Interfaces, s.iface(d, dir+"/"+n))
	}
	sortDevices(devs)
	return devs, errors.Join(s.errs...)
}

// owner names the device an interface belongs to: the directory its link
// points into ("usb1" for the root hub's "1-0:1.0"), else the name before
// the ':' (a flattened capture without links).
func (s *sysfs) owner(dir, iface string) string {
	if target, err := s.r.Readlink(dir + "/" + iface); err == nil {
		if p := path.Base(path.Dir(filepath.ToSlash(target))); p != "." && p != "/" && p != ".." {
			return p
		}
	}
	return iface[:strings.IndexByte(iface, ':')]
}

// sysfs reads attributes through a root, remembering unexpected errors.
type sysfs struct {
	r    *os.Root
	errs []error
}

func readDirNames(r *os.Root, dir string) ([]string, error) {
	f, err := r.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return names, nil
}

// read returns up to max bytes of the file at rel, whether it was longer,
// and whether it exists. Absent and unreadable files are "no data";
// anything else is remembered.
func (s *sysfs) read(rel string, max int) (b []byte, long, ok bool) {
	f, err := s.r.Open(rel)
	if err == nil {
		defer f.Close()
		b, err = io.ReadAll(io.LimitReader(f, int64(max)+1))
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
			s.errs = append(s.errs, fmt.Errorf("read %s: %w", rel, err))
		}
		return nil, false, false
	}
	if len(b) > max {
		return b[:max], true, true
	}
	return b, false, true
}

// str returns a string attribute without the newline sysfs adds, sanitized.
func (s *sysfs) str(d *Device, rel string) string {
	b, long, ok := s.read(rel, maxAttr)
	if !ok {
		return ""
	}
	v := strings.TrimSuffix(string(b), "\n")
	if long {
		addFlags(d, "string-too-long")
	}
	return clean(d, v)
}

// num parses a numeric attribute in base (16 for ids and classes, 10 for
// counts), flagging values that do not parse.
func (s *sysfs) num(d *Device, rel string, base, bits int) uint64 {
	v := strings.TrimSpace(s.str(d, rel))
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, base, bits)
	if err != nil {
		addFlags(d, "bad-attribute")
		return 0
	}
	return n
}

var rawAttrs = []string{"bmAttributes", "bNumInterfaces", "busnum", "devnum", "removable"}

func (s *sysfs) device(dir, name string) Device {
	d := Device{Path: name}
	d.VendorID = uint16(s.num(&d, dir+"/idVendor", 16, 16))
	d.ProductID = uint16(s.num(&d, dir+"/idProduct", 16, 16))
	d.BCDDevice = uint16(s.num(&d, dir+"/bcdDevice", 16, 16))
	if v := strings.TrimSpace(s.str(&d, dir+"/version")); v != "" {
		bcd, ok := parseVersion(v)
		if !ok {
			addFlags(&d, "bad-attribute")
		}
		d.BCDUSB = bcd
	}
	d.Class = uint8(s.num(&d, dir+"/bDeviceClass", 16, 8))
	d.SubClass = uint8(s.num(&d, dir+"/bDeviceSubClass", 16, 8))
	d.Protocol = uint8(s.num(&d, dir+"/bDeviceProtocol", 16, 8))
	d.Manufacturer = s.str(&d, dir+"/manufacturer")
	d.Product = s.str(&d, dir+"/product")
	d.Serial = s.str(&d, dir+"/serial")
	d.Configuration = s.str(&d, dir+"/configuration")
	if v := strings.TrimSpace(s.str(&d, dir+"/bMaxPower")); v != "" {
		ma, err := strconv.Atoi(strings.TrimSuffix(v, "mA"))
		if err != nil || ma < 0 {
			addFlags(&d, "bad-attribute")
		} else {
			d.MaxPowerMA = ma
		}
	}
	d.Speed = strings.TrimSpace(s.str(&d, dir+"/speed"))
	for _, a := range rawAttrs {
		if v := strings.TrimSpace(s.str(&d, dir+"/"+a)); v != "" {
			if d.Raw == nil {
				d.Raw = map[string]string{}
			}
			d.Raw[a] = v
		}
	}
	return d
}

// parseVersion reads the "version" attribute, bcdUSB printed as "%2x.%02x"
// (" 2.00", " 3.20").
func parseVersion(v string) (uint16, bool) {
	maj, min, ok := strings.Cut(v, ".")
	if !ok || len(min) != 2 {
		return 0, false
	}
	hi, err1 := strconv.ParseUint(maj, 16, 8)
	lo, err2 := strconv.ParseUint(min, 16, 8)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return uint16(hi<<8 | lo), true
}

func (s *sysfs) iface(d *Device, dir string) Interface {
	i := Interface{
		Number:   uint8(s.num(d, dir+"/bInterfaceNumber", 16, 8)),
		Class:    uint8(s.num(d, dir+"/bInterfaceClass", 16, 8)),
		SubClass: uint8(s.num(d, dir+"/bInterfaceSubClass", 16, 8)),
		Protocol: uint8(s.num(d, dir+"/bInterfaceProtocol", 16, 8)),
		Name:     s.str(d, dir+"/interface"),
	}
	if target, err := s.r.Readlink(dir + "/driver"); err == nil {
		i.Driver = clean(d, path.Base(target))
	}
	if i.Class != 3 {
		return i
	}
	names, err := readDirNames(s.r, dir)
	if err != nil {
		return i
	}
	var hidDirs []string
	for _, n := range names {
		if hidDirName.MatchString(n) {
			hidDirs = append(hidDirs, n)
		}
	}
	if len(hidDirs) == 0 {
		return i
	}
	// One HID device per interface; if a capture has more, the lowest wins.
	first := hidDirs[0]
	for _, n := range hidDirs[1:] {
		if n < first {
			first = n
		}
	}
	if b, long, ok := s.read(dir+"/"+first+"/report_descriptor", MaxReportDescriptor); ok {
		if len(b) > 0 {
			i.ReportDescriptor = b
		}
		if long {
			addFlags(d, "truncated")
		}
	}
	return i
}
