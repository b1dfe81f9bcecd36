package idle

import (
	"encoding/binary"
	"errors"
	"time"
)

// This file holds the OS-independent half of the Windows reader: the layout of WTSINFOW
// (wtsapi32.h) as returned by WTSQuerySessionInformationW(WTSSessionInfo), read from bytes so
// tests check it on every OS. idle_windows.go makes the calls.

// wtsInfoSize is sizeof(WTSINFOW): eight DWORDs (32 bytes), WCHAR WinStationName[32],
// Domain[17], UserName[21] (140 bytes, to 172), 4 bytes of padding to align the LARGE_INTEGERs
// at 176, then five LARGE_INTEGER times (ConnectTime, DisconnectTime, LastInputTime,
// LogonTime, CurrentTime) to 216.
const wtsInfoSize = 216

// Offsets of the WTSINFOW fields read.
const (
	wtsOffState         = 0
	wtsOffLastInputTime = 176 + 2*8
	wtsOffCurrentTime   = 176 + 4*8
)

// wtsActive is WTSActive of WTS_CONNECTSTATE_CLASS: a user is logged on and connected.
const wtsActive = 0

// errNoInputTime marks a session whose LastInputTime is not set; Windows leaves it 0 for a
// disconnected session and, on some versions, for the console session.
var errNoInputTime = errors.New("session reports no last input time")

// wtsIdle reads one WTSINFOW: whether the session is active and its CurrentTime −
// LastInputTime. Both are FILETIMEs (100 ns units since 1601) taken by the session manager
// in the same call, so the agent's own clock plays no part.
func wtsIdle(b []byte) (active bool, d time.Duration, err error) {
	if len(b) < wtsInfoSize {
		return false, 0, errors.New("short WTSINFO")
	}
	if binary.LittleEndian.Uint32(b[wtsOffState:]) != wtsActive {
		return false, 0, nil
	}
	last := int64(binary.LittleEndian.Uint64(b[wtsOffLastInputTime:]))
	now := int64(binary.LittleEndian.Uint64(b[wtsOffCurrentTime:]))
	if last <= 0 || now <= 0 {
		return true, 0, errNoInputTime
	}
	diff := now - last
	if diff > int64(MaxIdle/100) {
		diff = int64(MaxIdle / 100)
	}
	return true, clamp(time.Duration(diff) * 100), nil
}
