// Package idle reads how long it has been since someone touched the keyboard or the pointer
// of this computer, across every interactive session, for an agent that runs as a service
// (root, LocalSystem) without a display of its own.
//
//   - Linux: every X display on the machine (sockets in /tmp/.X11-unix and the abstract
//     sockets listed in /proc/net/unix), each authenticated with an MIT-MAGIC-COOKIE-1 found
//     in the display server's -auth file or in the XAUTHORITY of a process of that display,
//     asked with the MIT-SCREEN-SAVER extension's QueryInfo, spoken in pure Go. Wayland
//     sessions without Xwayland are not seen (no session-independent idle timer exists).
//   - Windows: WTSEnumerateSessions and WTSQuerySessionInformation(WTSSessionInfo) for each
//     active session, CurrentTime − LastInputTime.
//   - macOS: HIDIdleTime of IOHIDSystem, read through ioreg.
package idle

import (
	"context"
	"errors"
	"runtime"
	"time"
)

// Reading is one read of the idle timers.
type Reading struct {
	// Idle is the smallest time since the last user input over the interactive sessions
	// read: the machine is in use when anyone at it is.
	Idle time.Duration
	// Source names the timer read, as Activity.source: "x11-screensaver", "wts",
	// "hid-idle-time".
	Source string
	// Sessions is how many sessions (X displays, Windows sessions, 1 on macOS) gave a value.
	Sessions int
}

// ErrNoSession means there is no interactive session to read: nobody is logged in at a
// display. It is a fact (the machine was on, nobody used it), not a failure; test with
// errors.Is.
var ErrNoSession = errors.New("no interactive session")

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("idle time: not implemented on " + runtime.GOOS)

// MaxIdle caps a reading: timers are untrusted (an X server is any process that can bind a
// socket) and a value beyond a year is a broken or hostile source, not an idle user.
const MaxIdle = 365 * 24 * time.Hour

// Idle returns the smallest idle time over the interactive sessions, ErrNoSession when there
// are none, or an error naming what failed when none could be read. Cost: Linux one connection
// and three round trips per X display plus a scan of /proc/*/environ (a few ms for a few
// hundred processes); Windows two wtsapi32 calls per session; macOS one ioreg run (50-100 ms).
func Idle(ctx context.Context) (Reading, error) {
	return idle(ctx)
}

// clamp bounds an idle time read from an untrusted source to [0, MaxIdle].
func clamp(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	if d > MaxIdle {
		return MaxIdle
	}
	return d
}
