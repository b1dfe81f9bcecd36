package timezone

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxFile bounds every read; zoneinfo files are a few KiB.
const maxFile = 64 << 10

// readTree reads the zone of a Linux or macOS tree under root at now. It is
// file parsing only and builds on every OS. live adds the TZ variable and
// lets Go's own zone database resolve names.
func readTree(root string, live bool, now time.Time) (Zone, error) {
	if root == "" {
		root = "/"
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); err != nil {
		return Zone{}, fmt.Errorf("read %s: %w", filepath.Join(root, "etc"), err)
	}
	var z Zone
	if live {
		if tz := strings.TrimPrefix(os.Getenv("TZ"), ":"); tz != "" {
			name := zoneName(tz)
			if loc, err := time.LoadLocation(name); err == nil && validName(name) {
				z.Name, z.Source = name, "TZ"
				z.fill(loc, now)
				return z, nil
			}
		}
	}
	localtime := filepath.Join(root, "etc", "localtime")
	if target, err := os.Readlink(localtime); err == nil {
		if name := zoneName(target); validName(name) {
			z.Name, z.Source = name, "/etc/localtime symlink"
		}
	}
	if z.Name == "" {
		if b, err := readFile(filepath.Join(root, "etc", "timezone")); err == nil {
			if name := strings.TrimSpace(string(b)); validName(name) {
				z.Name, z.Source = name, "/etc/timezone"
			}
		}
	}
	if z.Name != "" {
		if loc, err := loadNamed(root, z.Name, live); err == nil {
			z.fill(loc, now)
			return z, nil
		}
	}
	// No usable name: the rules in /etc/localtime itself still give the offset.
	b, err := readFile(resolve(root, localtime))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && z.Name == "" {
			return z, nil // no zone configured: UTC by convention, but unknown here
		}
		return z, err
	}
	loc, err := time.LoadLocationFromTZData(z.Name, b)
	if err != nil {
		return z, fmt.Errorf("parse %s: %w", localtime, err)
	}
	if z.Source == "" {
		z.Source = "/etc/localtime file"
	}
	z.fill(loc, now)
	return z, nil
}

// loadNamed loads a zone's rules: from the tree's own zoneinfo when it is a
// captured tree, then from Go's database.
func loadNamed(root, name string, live bool) (*time.Location, error) {
	if !live {
		for _, dir := range []string{"usr/share/zoneinfo", "var/db/timezone/zoneinfo"} {
			if b, err := readFile(filepath.Join(root, dir, name)); err == nil {
				if loc, err := time.LoadLocationFromTZData(name, b); err == nil {
					return loc, nil
				}
			}
		}
	}
	return time.LoadLocation(name)
}

// zoneName strips a zoneinfo path ("/usr/share/zoneinfo/Europe/Berlin",
// "/var/db/timezone/zoneinfo/Europe/Berlin" on macOS,
// "../usr/share/zoneinfo/posix/Europe/Berlin") to the zone name.
func zoneName(path string) string {
	path = filepath.ToSlash(path)
	if i := strings.LastIndex(path, "zoneinfo/"); i >= 0 {
		path = path[i+len("zoneinfo/"):]
	}
	for _, prefix := range []string{"posix/", "right/"} {
		path = strings.TrimPrefix(path, prefix)
	}
	return path
}

// validName accepts IANA-shaped names ("Europe/Berlin", "Etc/GMT+5",
// "America/Argentina/Buenos_Aires", "UTC") and nothing that could walk a path.
func validName(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '/' || strings.Contains(name, "..") {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == '/', r == '_', r == '-', r == '+':
		default:
			return false
		}
	}
	return true
}

// resolve follows one symlink at path; absolute targets stay under root.
func resolve(root, path string) string {
	target, err := os.Readlink(path)
	if err != nil {
		return path
	}
	if filepath.IsAbs(target) {
		return filepath.Join(root, target)
	}
	return filepath.Join(filepath.Dir(path), target)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
