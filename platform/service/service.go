// Package service lists the services of this computer: systemd units on
// Linux, the Windows service control manager's services, launchd daemons
// and agents on macOS.
//
// The remote-tool detector matches them against the catalog: an enabled
// anydesk.service, a TeamViewer service set to start automatically, a
// launchd daemon that keeps RustDesk running for unattended access.
package service

import (
	"cmp"
	"context"
	"errors"
	"runtime"
	"slices"
)

// Service is one configured service.
type Service struct {
	// Name is the systemd unit name ("anydesk.service"; templates keep
	// their "@": "getty@.service"), the Windows service name ("AnyDesk"),
	// or the launchd label ("com.philandro.anydesk.service").
	Name string
	// DisplayName is the unit's Description= or the Windows display name;
	// "" for launchd, which has none.
	DisplayName string
	// Manager is "systemd", "scm" or "launchd".
	Manager string
	// Program is the executable: the first word of ExecStart=, the program
	// part of a Windows ImagePath, launchd's Program or ProgramArguments[0].
	Program string
	// Args are the arguments after Program (argv[1:]).
	Args []string
	// Enabled is true when the service starts without a user asking: a
	// systemd unit linked from a *.wants or *.requires directory of
	// /etc/systemd/system (and not masked), a Windows service whose start
	// type is not Disabled (Manual counts: triggers and other programs start
	// those), a launchd job not disabled by its plist or by launchd's
	// overrides database.
	Enabled bool
	// Running is known on Windows only (service state Running). Unit and
	// plist files say nothing about it, so it is false on Linux and macOS;
	// the process list tells whether the program runs.
	Running bool
	// Path is the unit or plist file as seen on the computer itself (never
	// prefixed with a captured tree's root); "" on Windows.
	Path string
	// User is systemd's User=, the Windows account (ServiceStartName,
	// "LocalSystem"), launchd's UserName or, for a user's own LaunchAgents,
	// that user's home directory name; "" when the manager's default
	// (root) applies.
	User string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// List returns the services, sorted by manager and name.
//
// root "" or "/" is the live system: Linux reads the systemd unit files,
// Windows asks the service control manager (one enumeration, then one
// QueryServiceConfig per service, which needs no administrator rights),
// macOS reads the launchd plists.
//
// Any other root is a captured tree, read on every OS with both file-based
// readers: systemd units and, when the tree has them, launchd plists.
// Directories absent from the tree are skipped silently.
//
// systemd: *.service in etc/systemd/system, run/systemd/system,
// usr/local/lib/systemd/system, usr/lib/systemd/system and lib/systemd/system,
// the first file of a name winning, as in systemd. Drop-ins (*.service.d)
// and generator output are not read; user units are not listed.
//
// launchd: Library/LaunchDaemons, Library/LaunchAgents,
// Users/*/Library/LaunchAgents, and from System/Library/LaunchDaemons and
// System/Library/LaunchAgents only Apple's remote-access jobs (Screen
// Sharing, Remote Desktop/Remote Management), to keep the cost down. Overrides
// come from private/var/db/com.apple.xpc.launchd/disabled.plist.
//
// A directory or file that fails to read is reported in the joined error;
// the other services are still returned. Cost: one small read (≤ 1 MiB) per
// unit or plist file plus directory listings; a few hundred files on a
// desktop. See BenchmarkList.
func List(ctx context.Context, root string) ([]Service, error) {
	var svcs []Service
	var err error
	if root != "" && root != "/" {
		svcs, err = readTree(ctx, root)
	} else {
		svcs, err = list(ctx)
	}
	slices.SortFunc(svcs, func(a, b Service) int {
		return cmp.Or(cmp.Compare(a.Manager, b.Manager), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Path, b.Path))
	})
	return svcs, err
}
