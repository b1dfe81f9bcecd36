package remoteaccess

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
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
	b, err := fsroot.ReadFile(fsroot.Path(root, screenSharingJob), maxFile)
	switch {
	case err == nil:
		sources = append(sources, "/"+screenSharingJob)
		var job struct {
			Label    string `plist:"Label"`
			Disabled bool   `plist:"Disabled"`
		}
		if err := decodePlist(b, &job); err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", fsroot.Path(root, screenSharingJob), err))
			break
		}
		m.ScreenSharing = !job.Disabled
		for _, rel := range launchdOverrides {
			ob, err := fsroot.ReadFile(fsroot.Path(root, rel), maxFile)
			if err != nil {
				if !fsroot.Absent(err) {
					errs = append(errs, err)
				}
				continue
			}
			var overrides map[string]bool
			if err := decodePlist(ob, &overrides); err != nil {
				errs = append(errs, fmt.Errorf("read %s: %w", fsroot.Path(root, rel), err))
				break
			}
			if disabled, ok := overrides[screenSharingLabel]; ok {
				m.ScreenSharing = !disabled
				sources = append(sources, "/"+rel)
			}
			break
		}
	case !fsroot.Absent(err):
		errs = append(errs, err)
	}
	b, err = fsroot.ReadFile(fsroot.Path(root, remoteManagement), maxFile)
	switch {
	case err == nil:
		sources = append(sources, "/"+remoteManagement)
		m.RemoteManagement = strings.TrimSpace(string(b)) == "enabled"
	case !fsroot.Absent(err):
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
