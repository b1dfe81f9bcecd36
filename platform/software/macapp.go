package software

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
	"howett.net/plist"
)

// macApps reads the application bundles of a macOS system at root:
// /Applications/*.app, /Applications/*/*.app (vendor folders such as
// "Utilities" or "TeamViewer") and /Users/*/Applications/*.app.
// /System/Applications (Apple's own) is not listed. Cost: a few directory
// listings and one Info.plist read (≤ 1 MiB) per bundle.
func macApps(ctx context.Context, root string) ([]Package, error) {
	var dirs []string // slash-separated, relative to root
	dirs = append(dirs, "Applications")
	subs, err := subdirs(filepath.Join(root, "Applications"))
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, s := range subs {
		if !strings.HasSuffix(s, ".app") {
			dirs = append(dirs, "Applications/"+s)
		}
	}
	users, _ := subdirs(filepath.Join(root, "Users"))
	for _, u := range users {
		dirs = append(dirs, "Users/"+u+"/Applications")
	}
	var pkgs []Package
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return pkgs, err
		}
		apps, err := subdirs(filepath.Join(root, filepath.FromSlash(d)))
		if err != nil {
			errs = append(errs, err)
		}
		for _, a := range apps {
			if !strings.HasSuffix(a, ".app") {
				continue
			}
			rel := d + "/" + a
			p, err := readBundle(filepath.Join(root, filepath.FromSlash(rel), "Contents", "Info.plist"))
			if err != nil && !fsroot.Absent(err) {
				errs = append(errs, err)
			}
			if p.Name == "" {
				p.Name = strings.TrimSuffix(a, ".app")
			}
			p.Source, p.Path = "macos-app", "/"+rel
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, errors.Join(errs...)
}

// infoPlist holds the Info.plist keys List uses.
type infoPlist struct {
	ID          string `plist:"CFBundleIdentifier"`
	Name        string `plist:"CFBundleName"`
	DisplayName string `plist:"CFBundleDisplayName"`
	Short       string `plist:"CFBundleShortVersionString"`
	Version     string `plist:"CFBundleVersion"`
}

// readBundle reads an app's Info.plist (XML or binary). A bundle without a
// readable Info.plist still counts as installed, with only its file name.
func readBundle(path string) (Package, error) {
	b, err := fsroot.ReadFile(path, maxFile)
	if err != nil {
		return Package{}, err
	}
	info, err := parseInfoPlist(b)
	if err != nil {
		return Package{}, fmt.Errorf("read %s: %w", path, err)
	}
	p := Package{ID: clean(info.ID), Name: clean(info.DisplayName), Version: clean(info.Short)}
	if p.Name == "" {
		p.Name = clean(info.Name)
	}
	if p.Version == "" {
		p.Version = clean(info.Version)
	}
	return p, nil
}

// parseInfoPlist decodes an Info.plist. The plist decoder is not trusted not
// to panic on hostile input, so a panic becomes an error.
func parseInfoPlist(b []byte) (info infoPlist, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed plist: %v", r)
		}
	}()
	if err := plist.NewDecoder(bytes.NewReader(b)).Decode(&info); err != nil {
		return infoPlist{}, fmt.Errorf("decode plist: %w", err)
	}
	return info, nil
}
