package idle

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	modwtsapi32                     = windows.NewLazySystemDLL("wtsapi32.dll")
	procWTSQuerySessionInformationW = modwtsapi32.NewProc("WTSQuerySessionInformationW")
)

// wtsSessionInfo is WTSSessionInfo of WTS_INFO_CLASS.
const wtsSessionInfo = 24

// wtsCurrentServerHandle is WTS_CURRENT_SERVER_HANDLE: this computer.
const wtsCurrentServerHandle windows.Handle = 0

// idle enumerates the sessions and reads each active one's WTSINFO. Sessions that give no
// input time are skipped; if every active session is like that, it is an error (the timer is
// unknown), not "nobody here".
func idle(ctx context.Context) (Reading, error) {
	var sessions *windows.WTS_SESSION_INFO
	var count uint32
	if err := windows.WTSEnumerateSessions(wtsCurrentServerHandle, 0, 1, &sessions, &count); err != nil {
		return Reading{}, fmt.Errorf("WTSEnumerateSessions: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(sessions)))
	list := unsafe.Slice(sessions, count)
	r := Reading{Source: "wts", Idle: MaxIdle}
	var errs []error
	active := 0
	for _, s := range list {
		if ctx.Err() != nil {
			return Reading{}, ctx.Err()
		}
		if s.State != windows.WTSActive || s.SessionID == 0 { // session 0 is services
			continue
		}
		b, err := querySessionInfo(s.SessionID)
		if err != nil {
			errs = append(errs, fmt.Errorf("session %d: %w", s.SessionID, err))
			continue
		}
		ok, d, err := wtsIdle(b)
		if !ok {
			continue
		}
		active++
		if err != nil {
			errs = append(errs, fmt.Errorf("session %d: %w", s.SessionID, err))
			continue
		}
		r.Sessions++
		r.Idle = min(r.Idle, d)
	}
	switch {
	case r.Sessions > 0:
		return r, nil
	case active == 0 && len(errs) == 0:
		return Reading{}, fmt.Errorf("%w: no active Windows session", ErrNoSession)
	default:
		return Reading{}, errors.Join(errs...)
	}
}

// querySessionInfo calls WTSQuerySessionInformationW(WTSSessionInfo), which x/sys/windows
// does not wrap, and copies the WTSINFOW out before freeing it.
func querySessionInfo(id uint32) ([]byte, error) {
	var buf *byte
	var n uint32
	r, _, err := procWTSQuerySessionInformationW.Call(uintptr(wtsCurrentServerHandle), uintptr(id),
		wtsSessionInfo, uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return nil, fmt.Errorf("WTSQuerySessionInformationW: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	if buf == nil || n < wtsInfoSize {
		return nil, fmt.Errorf("WTSQuerySessionInformationW: %d bytes, want %d", n, wtsInfoSize)
	}
	return append([]byte(nil), unsafe.Slice(buf, n)...), nil
}
