package software

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

const (
	// maxStatus bounds the read of var/lib/dpkg/status; a desktop system
	// with 3000 packages has 3-6 MB.
	maxStatus = 64 << 20
	// maxStatusLine bounds one line; the longest real ones (Description,
	// Depends of meta-packages) are a few KiB.
	maxStatusLine = 1 << 20
)

// dpkgStatus reads the installed packages from var/lib/dpkg/status.
func dpkgStatus(_ context.Context, root string) ([]Package, error) {
	path := filepath.Join(root, "var", "lib", "dpkg", "status")
	f, err := os.Open(path)
	if err != nil {
		if fsroot.Absent(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	pkgs, err := parseDpkgStatus(f)
	if err != nil {
		return pkgs, fmt.Errorf("read %s: %w", path, err)
	}
	return pkgs, nil
}

// parseDpkgStatus streams a dpkg status file (deb822 stanzas separated by
// blank lines) and returns the packages whose Status is "install ok
// installed". It stops with an error, keeping what it has, after maxStatus
// bytes or at a line longer than maxStatusLine.
func parseDpkgStatus(r io.Reader) ([]Package, error) {
	lr := &io.LimitedReader{R: r, N: maxStatus + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), maxStatusLine)
	var pkgs []Package
	var name, version, maint, status string
	flush := func() {
		if name != "" && status == "install ok installed" {
			pkgs = append(pkgs, Package{Name: name, Version: version, Publisher: maintainer(maint), Source: "dpkg"})
		}
		name, version, maint, status = "", "", "", ""
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // continuation of a multi-line field
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(key) {
		case "package":
			name = clean(value)
		case "version":
			version = clean(value)
		case "maintainer":
			maint = value
		case "status":
			status = strings.Join(strings.Fields(value), " ")
		}
	}
	if err := sc.Err(); err != nil {
		return pkgs, err
	}
	if lr.N <= 0 {
		return pkgs, fmt.Errorf("larger than %d bytes, read the start only", maxStatus)
	}
	flush()
	return pkgs, nil
}

// maintainer drops the e-mail address: "AnyDesk Software GmbH
// <info@anydesk.com>" → "AnyDesk Software GmbH".
func maintainer(s string) string {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[:i]
	}
	return clean(s)
}
