// Package software lists the installed software of this computer: Linux
// packages (dpkg, rpm, flatpak, snap), desktop entries and /opt directories,
// Windows uninstall entries and macOS application bundles.
//
// The remote-tool detector matches these against the catalog: an installed
// AnyDesk, a RustDesk flatpak, an xrdp package, a TeamViewer uninstall entry.
package software

import (
	"cmp"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
)

// Package is one installed piece of software.
type Package struct {
	// Name is the package name (dpkg, rpm), the display name (Windows,
	// desktop entries, macOS), or the application id (flatpak, snap, opt
	// directory name).
	Name string
	// Version is the package version ("1:2.4.1-1", "9.0.4-1.fc40" with the
	// rpm release, "ad 9.0.4" as the Windows entry writes it); "" when the
	// source has none (desktop entries, /opt, flatpak).
	Version string
	// Publisher is the rpm Vendor, the Windows Publisher, the dpkg
	// Maintainer (without the e-mail address); "" elsewhere.
	Publisher string
	// Source says where the entry came from: "dpkg", "rpm", "flatpak",
	// "snap", "desktop", "opt", "windows" or "macos-app".
	Source string
	// ID is the flatpak application id, the snap name, the macOS bundle id,
	// the Windows uninstall key name or the .desktop file name; "" for dpkg,
	// rpm and opt.
	ID string
	// Path is the install location as seen on the computer itself (never
	// prefixed with a captured tree's root): the Windows InstallLocation,
	// the .app bundle, the flatpak or snap or /opt directory, or the Exec=
	// command line of a desktop entry.
	Path string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// List returns the installed software, sorted by name (case-insensitive),
// then source and version.
//
// root "" or "/" is the live system. Linux reads the files below; Windows
// reads the uninstall keys of HKLM (native and WOW6432Node) and of every
// loaded user hive under HKU; macOS reads the Info.plist of every .app in
// /Applications, one folder below it, and /Users/*/Applications.
//
// Any other root is a captured tree, read on every OS with every file-based
// reader: the Linux sources and, when the tree has them, the macOS
// application folders. Sources absent from a tree are skipped silently.
//
// Linux sources, relative to root:
//
//	var/lib/dpkg/status                          dpkg ("install ok installed" only)
//	var/lib/rpm/rpmdb.sqlite                     rpm (SQLite rpmdb, Fedora 33+, RHEL 9+)
//	var/lib/flatpak/app/*, home/*/.local/share/flatpak/app/*   flatpak
//	snap/*, else var/lib/snapd/snaps/*.snap      snap
//	{usr,usr/local}/share/applications, {home/*,root}/.local/share/applications   desktop
//	opt/*                                        opt
//
// A source that fails is reported in the joined error while the others are
// still returned. Cost: dominated by dpkg status (a streamed read of a few
// MB, bounded to 64 MiB) or one SQLite scan of the rpm database; the rest is
// a handful of directory listings and one small read per desktop entry,
// snap and app bundle. See BenchmarkList.
func List(ctx context.Context, root string) ([]Package, error) {
	var pkgs []Package
	var err error
	if root != "" && root != "/" {
		pkgs, err = readTree(ctx, root)
	} else {
		pkgs, err = list(ctx)
	}
	sortPackages(pkgs)
	return pkgs, err
}

func sortPackages(pkgs []Package) {
	slices.SortFunc(pkgs, func(a, b Package) int {
		return cmp.Or(
			cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			cmp.Compare(a.Source, b.Source),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Path, b.Path),
		)
	})
}
