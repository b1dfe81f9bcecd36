package display

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
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// drmClass is the sysfs directory of DRM devices and connectors.
const drmClass = "sys/class/drm"

// connectorName matches connector entries ("card0-eDP-1",
// "card1-HDMI-A-2", "card0-DP-3"), not cards, render nodes or "version".
var connectorName = regexp.MustCompile(`^card[0-9]+-.+$`)

// readDRM reads the DRM connectors of the Linux system at root ("/" for the
// live one); it builds on every OS so captured trees can be read anywhere.
// The class entries are symlinks into sys/devices; in a captured tree they
// are followed with an os.Root, so a link cannot lead out of the tree
// (absolute links therefore fail there). Per connector:
//
//	status    "connected", "disconnected", "unknown"     Status
//	enabled   "enabled", "disabled"                       Enabled
//	edid      binary, empty when nothing is attached      Raw, EDID (read up to 32 KiB)
//
// A missing sys/class/drm (no GPU, a headless server, a tree without it)
// gives no displays and no error.
func readDRM(ctx context.Context, root string, live bool) ([]Display, error) {
	if root == "" {
		root = "/"
	}
	if err := fsroot.CheckRoot(root); err != nil {
		return nil, err
	}
	t := sysfs{root: root, live: live}
	if !live {
		r, err := os.OpenRoot(root)
		if err != nil {
			return nil, fmt.Errorf("read root %s: %w", root, err)
		}
		defer r.Close()
		t.r = r
	}
	names, err := t.list(drmClass)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var ds []Display
	var errs []error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return ds, err
		}
		if !connectorName.MatchString(name) {
			continue
		}
		dir := path.Join(drmClass, name)
		d := Display{Connector: name, Status: StatusUnknown, Source: "drm"}
		if s, err := t.read(path.Join(dir, "status"), 64); err == nil {
			if s := strings.TrimSpace(string(s)); s != "" {
				d.Status = s
			}
		} else if !absent(err) {
			errs = append(errs, err)
		}
		if s, err := t.read(path.Join(dir, "enabled"), 64); err == nil {
			d.Enabled = strings.TrimSpace(string(s)) == "enabled"
		} else if !absent(err) {
			errs = append(errs, err)
		}
		if raw, err := t.read(path.Join(dir, "edid"), maxEDIDRead); err == nil {
			d = withEDID(d, raw)
		} else if !absent(err) {
			errs = append(errs, err)
		}
		ds = append(ds, d)
	}
	return ds, errors.Join(errs...)
}

// absent reports errors that mean "no data here" rather than a failure.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

// sysfs reads files below root: through r for a captured tree, directly for
// the live system.
type sysfs struct {
	root string
	live bool
	r    *os.Root
}

func (t sysfs) open(rel string) (*os.File, error) {
	if t.live {
		return os.Open(filepath.Join(t.root, filepath.FromSlash(rel)))
	}
	return t.r.Open(filepath.FromSlash(rel))
}

// list returns the names in directory rel.
func (t sysfs) list(rel string) ([]string, error) {
	f, err := t.open(rel)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", rel, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", rel, err)
	}
	return names, nil
}

// read returns at most max bytes of file rel.
func (t sysfs) read(rel string, max int64) ([]byte, error) {
	f, err := t.open(rel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return b, nil
}
