// Package remoteaccess reads the operating system's own remote-access
// state: whether Windows Remote Desktop or macOS Screen Sharing and Remote
// Management are switched on, and the Windows sessions with the data their
// RDP clients sent (client name, address, build).
//
// The os_remote detector turns these into os_remote.enabled and
// os_remote.session findings; the location detector weighs a remote
// client's address. Linux remote-desktop servers (xrdp, x11vnc,
// gnome-remote-desktop) are found from packages, services, processes and
// sockets instead.
package remoteaccess

import (
	"context"
	"errors"
	"os"
	"runtime"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// State is the remote-access state of a computer. A nil part means the OS
// has no such feature (RDP off Windows, Screen Sharing off macOS).
type State struct {
	RDP           *RDPConfig
	ScreenSharing *MacSharing
	// Sessions are the Windows terminal-services sessions, listeners left
	// out; empty elsewhere.
	Sessions []Session
}

// RDPConfig is the Remote Desktop server configuration, from the registry.
// Group Policy values (HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal
// Services) win over the local ones, as in Windows.
type RDPConfig struct {
	// Enabled is fDenyTSConnections == 0; a missing value is Windows'
	// default, denied.
	Enabled bool
	// Port is WinStations\RDP-Tcp PortNumber; 3389 when unset.
	Port uint32
	// NLA is UserAuthentication == 1: Network Level Authentication is
	// required before a session is created.
	NLA bool
	// Shadow is the shadowing policy: 0 none, 1 full control with the
	// user's permission, 2 full control without, 3 view with permission,
	// 4 view without.
	Shadow uint32
	// Source is the registry key fDenyTSConnections was read from.
	Source string
}

// MacSharing is the state of macOS Screen Sharing and Apple Remote
// Desktop's Remote Management.
type MacSharing struct {
	// ScreenSharing is true when the launchd job com.apple.screensharing
	// exists and is enabled: launchd's overrides database
	// (/private/var/db/com.apple.xpc.launchd/disabled.plist, written by the
	// Sharing settings through "launchctl enable/disable") wins; without an
	// entry there, the job plist's own Disabled key decides.
	ScreenSharing bool
	// RemoteManagement is true when /Library/Application Support/Apple/
	// Remote Desktop/RemoteManagement.launchd exists and says "enabled":
	// that file is what ARD's kickstart -activate writes and what launchd
	// checks before starting ARDAgent. Turning Remote Management on also
	// serves screen sharing, even when ScreenSharing is false.
	RemoteManagement bool
	// Source lists the files the values came from, comma-separated.
	Source string
}

// Session is one Windows terminal-services session (console or remote).
type Session struct {
	ID uint32
	// User and Domain are the logged-on account; empty before logon.
	User, Domain string
	// Protocol is "console", "rdp" or "ica" (WTSClientProtocolType 0, 2,
	// 1). Session 0 (services) reports "console" too.
	Protocol string
	// State is "active", "connected", "connect-query", "shadow",
	// "disconnected", "idle", "reset", "down" or "init".
	State string
	// ClientName is the computer name the RDP client sent; ClientAddress
	// its IP address as the client reported it (behind NAT, the client's
	// private address). Empty for the console.
	ClientName, ClientAddress string
	// ClientBuild is the client's build number (22631 for Windows 11 23H2
	// mstsc; FreeRDP and others send their own).
	ClientBuild uint32
	// ClientKeyboardLayout and ClientTimeZone are what the client sent in
	// its RDP client info. The public WTS API does not expose them
	// (WTSCLIENT has neither; only the undocumented WinStationQueryInformation
	// does), so they are 0 and "" for now.
	ClientKeyboardLayout uint32
	ClientTimeZone       string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// Read returns the remote-access state of the computer at root.
//
// root "" or "/" is the live system. Windows reads about six registry values
// and enumerates the sessions with wtsapi32 (one WTSEnumerateSessions, six
// WTSQuerySessionInformation calls per session). macOS reads three small
// files. Linux returns an empty State and no error.
//
// Any other root is a captured tree, read on every OS: a macOS tree (one
// with System/Library) gives ScreenSharing from its files; any other tree
// an empty State.
func Read(ctx context.Context, root string) (State, error) {
	if root != "" && root != "/" {
		return readTree(root)
	}
	return read(ctx)
}

func readTree(root string) (State, error) {
	if err := fsroot.CheckRoot(root); err != nil {
		return State{}, err
	}
	if fi, err := os.Stat(fsroot.Path(root, "System/Library")); err != nil || !fi.IsDir() {
		return State{}, nil
	}
	m, err := macSharing(root)
	return State{ScreenSharing: m}, err
}
