package block

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/platform/usb"
)

// maxAttr bounds the read of one sysfs attribute.
const maxAttr = 4 << 10

var (
	// usbInterfaceDir is a USB interface directory: "1-1.2:1.2", "2-1:1.0".
	usbInterfaceDir = regexp.MustCompile(`^(\d+-\d+(?:\.\d+)*):\d+\.\d+$`)
	ataPort         = regexp.MustCompile(`^ata\d+$`)
)

// readSysfs lists ROOT/sys/block/sd* and sr*. It builds on every OS so that
// captured trees can be read anywhere. Each entry is a relative symlink to
// the block device under sys/devices; its target says where the device
// hangs (.../1-1.2/1-1.2:1.2/host6/target6:0:0/6:0:0:0/block/sr0 is behind
// USB interface 1-1.2:1.2 of device 1-1.2). Files read through os.Root, so
// no link leads outside root:
//
//	sys/block/NAME/removable, ro                          Removable, ReadOnly
//	sys/block/NAME/device/vendor, model, rev, type       Vendor, Model, Revision, Type
func readSysfs(ctx context.Context, root string) ([]Disk, error) {
	if root == "" {
		root = "/"
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", root, err)
	}
	defer r.Close()
	const dir = "sys/block"
	f, err := r.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	s := sysfs{r: r}
	var disks []Disk
	for _, n := range names {
		if !strings.HasPrefix(n, "sd") && !strings.HasPrefix(n, "sr") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return disks, err
		}
		p := dir + "/" + n
		if _, err := r.Stat(p); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.errs = append(s.errs, fmt.Errorf("read %s: %w", p, err))
			}
			continue
		}
		d := Disk{Name: n}
		if target, err := r.Readlink(p); err == nil {
			d.Transport, d.USBPath = transport(target)
		}
		d.Removable = s.num(&d, p+"/removable") == 1
		d.ReadOnly = s.num(&d, p+"/ro") == 1
		d.Vendor = s.str(&d, p+"/device/vendor")
		d.Model = s.str(&d, p+"/device/model")
		d.Revision = s.str(&d, p+"/device/rev")
		d.Type = uint8(s.num(&d, p+"/device/type"))
		disks = append(disks, d)
	}
	sortDisks(disks)
	return disks, errors.Join(s.errs...)
}

// transport reads a sys/block link target: "usb" and the USB device name
// when a component is a USB interface directory (the last one, for a drive
// behind a hub of a dock), "ata" when a component is an ATA port.
func transport(target string) (string, string) {
	parts := strings.Split(strings.ReplaceAll(target, `\`, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if m := usbInterfaceDir.FindStringSubmatch(parts[i]); m != nil {
			return "usb", m[1]
		}
	}
	for _, p := range parts {
		if ataPort.MatchString(p) {
			return "ata", ""
		}
	}
	return "", ""
}

type sysfs struct {
	r    *os.Root
	errs []error
}

// str reads an inquiry string: sanitized, padding trimmed.
func (s *sysfs) str(d *Disk, rel string) string {
	f, err := s.r.Open(rel)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
			s.errs = append(s.errs, fmt.Errorf("read %s: %w", rel, err))
		}
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAttr))
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("read %s: %w", rel, err))
		return ""
	}
	v, flags := usb.SanitizeString(strings.TrimSuffix(string(b), "\n"))
	addFlags(d, flags...)
	return strings.TrimSpace(v)
}

func (s *sysfs) num(d *Disk, rel string) uint64 {
	v := s.str(d, rel)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil {
		addFlags(d, "bad-attribute")
		return 0
	}
	return n
}
