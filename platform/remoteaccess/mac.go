package remoteaccess

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"howett.net/plist"
)

const (
	screenSharingJob   = "System/Library/LaunchDaemons/com.apple.screensharing.plist"
	screenSharingLabel = "com.apple.screensharing"
	remoteManagement   = "Library/Application Support/Apple/Remote Desktop/RemoteManagement.launchd"
	// maxFile bounds each read; these files are well under 64 KiB.
	maxFile = 1 << 20
)

var launchdOverrides = []string{
	"private/var/db/com.apple.xpc.launchd/disabled.plist",
	"var/db/com.apple.xpc.launchd/disabled.plist",
}

// macSharing reads Screen Sharing and Remote Management state from the
// files of a macOS system at root; see MacSharing for what decides each.
func macSharing(root string) (*MacSharing, error) {
	m := &MacSharing{}
	var sources []string
	var errs []error
	b, err := readSmall(inTree(root, screenSharingJob))
	switch {
	case err == nil:
		sources = append(sources, "/"+screenSharingJob)
		var job struct {
			Label    string `plist:"Label"`
			Disabled bool   `plist:"Disabled"`
		}
		if err := decodePlist(b, &job); err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", inTree(root, screenSharingJob), err))
			break
		}
		m.ScreenSharing = !job.Disabled
		for _, rel := range launchdOverrides {
			ob, err := readSmall(inTree(root, rel))
			if err != nil {
				if !absent(err) {
					errs = append(errs, err)
				}
				continue
			}
			var overrides map[string]bool
			if err := decodePlist(ob, &overrides); err != nil {
				errs = append(errs, fmt.Errorf("read %s: %w", inTree(root, rel), err))
				break
			}
			if disabled, ok := overrides[screenSharingLabel]; ok {
				m.ScreenSharing = !disabled
				sources = append(sources, "/"+rel)
			}
			break
		}
	case !absent(err):
		errs = append(errs, err)
	}
	b, err = readSmall(inTree(root, remoteManagement))
	switch {
	case err == nil:
		sources = append(sources, "/"+remoteManagement)
		m.RemoteManagement = strings.TrimSpace(string(b)) == "enabled"
	case !absent(err):
		errs = append(errs, err)
	}
	m.Source = strings.Join(sources, ",")
	return m, errors.Join(errs...)
}

// decodePlist decodes an XML or binary plist. The decoder is not trusted
// not to panic on hostile input, so a panic becomes an error.
func decodePlist(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed plist: %v", r)
		}
	}()
	if err := plist.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return fmt.Errorf("decode plist: %w", err)
	}
	return nil
}

// absent reports errors that mean "no data here" rather than a failure.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

// inTree returns the path of rel (slash-separated, as on the target system)
// under root, following final symlinks whose absolute targets must resolve
// inside the tree rather than on this computer.
func inTree(root, rel string) string {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if root == "/" || root == "" {
		return p
	}
	for range 8 {
		target, err := os.Readlink(p)
		if err != nil {
			return p
		}
		if strings.HasPrefix(target, "/") {
			p = filepath.Join(root, filepath.FromSlash(target))
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
	}
	return p
}

// readSmall reads at most maxFile bytes of a file.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
