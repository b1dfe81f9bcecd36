package keyboard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// maxFile bounds every configuration file read; real ones are a few KiB.
const maxFile = 256 << 10

// maxUsers bounds the home directories read.
const maxUsers = 1000

// readTree reads the Linux and macOS configuration files under root. It is
// file parsing only and builds on every OS.
func readTree(ctx context.Context, root string) ([]Layout, error) {
	if root == "" {
		root = "/"
	}
	if _, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	var ls []Layout
	var errs []error
	// read returns the file at rel ("/etc/..."), or nil when it is absent.
	read := func(rel string) []byte {
		b, err := fsroot.ReadFile(fsroot.Path(root, rel), maxFile)
		if err != nil && !fsroot.Absent(err) {
			errs = append(errs, err)
		}
		return b
	}
	for _, l := range parseKeyboardDefault(read("/etc/default/keyboard"), "/etc/default/keyboard") {
		ls = add(ls, l)
	}
	for _, l := range parseVconsole(read("/etc/vconsole.conf"), "/etc/vconsole.conf") {
		ls = add(ls, l)
	}
	for _, rel := range confFiles(root, "/etc/X11/xorg.conf.d", ".conf", &errs) {
		for _, l := range parseXorgConf(read(rel), rel) {
			ls = add(ls, l)
		}
	}
	for _, user := range homes(root, "/home", &errs) {
		if err := ctx.Err(); err != nil {
			return ls, err
		}
		rel := "/home/" + user + "/.config/fcitx5/profile"
		for _, l := range parseFcitx5Profile(read(rel), rel, user) {
			ls = add(ls, l)
		}
		rel = "/home/" + user + "/.config/fcitx/profile"
		for _, l := range parseFcitxProfile(read(rel), rel, user) {
			ls = add(ls, l)
		}
	}
	for _, rel := range confFiles(root, "/usr/share/ibus/component", ".xml", &errs) {
		for _, l := range parseIbusComponent(read(rel)) {
			ls = add(ls, l)
		}
	}
	for _, user := range homes(root, "/Users", &errs) {
		if err := ctx.Err(); err != nil {
			return ls, err
		}
		rel := "/Users/" + user + "/Library/Preferences/com.apple.HIToolbox.plist"
		b := read(rel)
		if b == nil {
			continue
		}
		found, err := parseHIToolbox(b, rel, user)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rel, err))
		}
		for _, l := range found {
			ls = add(ls, l)
		}
	}
	return ls, errors.Join(errs...)
}

// confFiles lists the files ending in ext of the directory rel under root,
// sorted, as paths relative to root.
func confFiles(root, rel, ext string, errs *[]error) []string {
	ents, err := fsroot.ReadDir(fsroot.Path(root, rel))
	if err != nil {
		*errs = append(*errs, err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ext) && !e.IsDir() {
			out = append(out, path.Join(rel, e.Name()))
		}
	}
	slices.Sort(out)
	return out
}

// homes lists the user directories of rel ("/home", "/Users"), skipping
// macOS's Shared and hidden entries, at most maxUsers.
func homes(root, rel string, errs *[]error) []string {
	ents, err := fsroot.ReadDir(fsroot.Path(root, rel))
	if err != nil {
		*errs = append(*errs, err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || n == "Shared" || clean(n) != n || n == "" {
			continue
		}
		if out = append(out, n); len(out) == maxUsers {
			break
		}
	}
	return out
}
