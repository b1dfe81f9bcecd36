// Package rdpclient reports what the RDP clients driving this computer told
// it about themselves: the client's computer name, its address, its
// keyboard layout and, where the server keeps it, its time zone. A client
// sends all of these in the RDP connection sequence (MS-RDPBCGR
// TS_UD_CS_CORE keyboardLayout and clientName, TS_EXTENDED_INFO_PACKET
// clientAddress and clientTimeZone), so a laptop driven from another
// country over RDP can carry that country's layout and zone.
//
// What each OS really yields (see Clients):
//
//   - Windows: the terminal-services API (wtsapi32) gives, per RDP session,
//     the user, client name, client address and client build. It does not
//     give the client's keyboard layout or time zone: neither WTSCLIENTW
//     (WTSClientInfo) nor WTSINFOEXW (WTSSessionInfoEx) holds them, and the
//     structure that does, wtsdefs.h WTS_CLIENT_DATA (KeyboardLayout,
//     ClientTimeZone), is handed only to protocol providers
//     (IWRdsProtocolConnection), not to a service. Only the undocumented
//     winsta.dll WinStationQueryInformationW(WinStationClient) returns them;
//     it is not used, so KeyboardLayout and TimeZone stay empty.
//   - Linux: xrdp. xrdp logs, at its default level (INFO), the TCP peer of
//     every connection, the computer name the client sent and the keyboard
//     layout it sent; sesman logs the user and X display of the session
//     the connection logged into. xrdp 0.9 parses and drops clientTimeZone
//     and clientAddress of TS_EXTENDED_INFO_PACKET without logging them at
//     any level, and exports nothing about the client into the session's
//     environment (only DISPLAY, XRDP_SESSION, XRDP_SOCKET_PATH and the
//     PulseAudio sockets), so the time zone is not obtainable and the
//     address is the TCP peer, not the client's own idea of its address.
//   - macOS has no RDP server: nothing.
package rdpclient

import (
	"context"
	"errors"
	"runtime"

	"github.com/farmwatch/farmwatch/platform/fsroot"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Source values of pb.RdpClient.
const (
	SourceWTS     = "wts"      // Windows terminal-services API
	SourceXrdpLog = "xrdp-log" // xrdp and xrdp-sesman logs, matched to live connections
)

// ErrNotImplemented is returned on operating systems without a live reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// Clients returns the RDP clients of the sessions that are live now, one
// record per session (or per connection still at xrdp's login screen).
// Fields the OS does not yield are left empty and OffsetKnown is false.
//
// root "" or "/" is the live system:
//
//   - Windows enumerates the sessions (WTSEnumerateSessionsW) and, for each
//     whose WTSClientProtocolType is RDP, queries WTSUserName,
//     WTSClientName, WTSClientAddress, WTSClientBuildNumber and WTSClientInfo
//     (five WTSQuerySessionInformationW calls per RDP session, well under a
//     millisecond in all).
//   - Linux reads the last 4 MiB of xrdp's and sesman's logs (paths from
//     their ini files, the ones given to the running daemons with -c
//     first) and keeps the connections that are live: an xrdp process
//     still holds an established TCP connection from the logged peer, or
//     the sesman process of the session it logged into still runs. That
//     costs one /proc/PID/comm read per process (under 1 ms for 75
//     processes; no log is read when no xrdp runs), one fd listing per
//     xrdp process, a read of /proc/net/tcp and tcp6, and parsing the
//     logs at about 100 MB/s: up to ~40 ms for a full 4 MiB tail.
//   - macOS returns nil, nil: it has no RDP server.
//
// Any other root is a captured Linux tree (its etc/xrdp, var/log and proc),
// read on every OS the same way; a tree without proc has no live
// connection and so gives nothing.
//
// A connection whose log lines were rotated away (logrotate compresses
// xrdp.log) is not reported. Concurrent connections interleave their log
// lines; xrdp's EnableProcessId=true tags them and is then used to keep
// them apart, otherwise a line is attributed to the connection logged
// last (re-synchronised by the TLS line, which names the peer).
func Clients(ctx context.Context, root string) ([]*pb.RdpClient, error) {
	return ClientsAmong(ctx, root, nil)
}

// Proc is a running process as its caller listed it: Name is the kernel's comm on Linux.
type Proc struct {
	PID  int
	Name string
}

// ClientsAmong is Clients for a caller that has just listed the processes (listed, not nil):
// xrdp's daemons are picked from the list instead of reading every /proc/PID/comm again (300
// reads on a machine with 300 processes). A daemon started since the list was taken is seen
// by the next call.
func ClientsAmong(ctx context.Context, root string, listed []Proc) ([]*pb.RdpClient, error) {
	if !fsroot.Live(root) {
		if err := fsroot.CheckRoot(root); err != nil {
			return nil, err
		}
		return xrdpClients(ctx, root, listed)
	}
	return clients(ctx, listed)
}
