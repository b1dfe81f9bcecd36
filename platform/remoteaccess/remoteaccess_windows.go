package remoteaccess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/farmwatch/farmwatch/platform/winreg"
	"golang.org/x/sys/windows"
)

// wtsClasses are queried for every session, in this order.
var wtsClasses = []uint32{wtsUserName, wtsDomainName, wtsClientBuildNumber, wtsClientName, wtsClientAddress, wtsClientProtocolType}

func read(ctx context.Context) (State, error) {
	st := State{RDP: rdpConfig(winreg.Live{})}
	recs, err := wtsSessions(ctx)
	for _, r := range recs {
		if s, ok := r.session(); ok {
			st.Sessions = append(st.Sessions, s)
		}
	}
	return st, err
}

var procWTSQuerySessionInformationW = windows.NewLazySystemDLL("wtsapi32.dll").NewProc("WTSQuerySessionInformationW")

// wtsSessions enumerates the sessions of this server and records, for each,
// the buffers of the WTS_INFO_CLASS queries in wtsClasses. A query that
// fails (a session ending meanwhile) leaves its class out.
func wtsSessions(ctx context.Context) ([]wtsRecord, error) {
	var infos *windows.WTS_SESSION_INFO
	var count uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &infos, &count); err != nil {
		return nil, fmt.Errorf("WTSEnumerateSessions: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(infos)))
	var recs []wtsRecord
	for _, si := range unsafe.Slice(infos, count) {
		if err := ctx.Err(); err != nil {
			return recs, err
		}
		rec := wtsRecord{ID: si.SessionID, State: si.State, info: map[uint32][]byte{}}
		if si.State != wtsListen {
			for _, class := range wtsClasses {
				if b, err := wtsQuery(si.SessionID, class); err == nil {
					rec.info[class] = b
				}
			}
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// wtsQuery returns a copy of the buffer WTSQuerySessionInformationW fills
// for one session and class (WTS_CURRENT_SERVER_HANDLE).
func wtsQuery(id, class uint32) ([]byte, error) {
	if err := procWTSQuerySessionInformationW.Find(); err != nil {
		return nil, err
	}
	var buf *byte
	var n uint32
	r, _, err := procWTSQuerySessionInformationW.Call(0, uintptr(id), uintptr(class),
		uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return nil, fmt.Errorf("WTSQuerySessionInformationW(%d, %d): %w", id, class, err)
	}
	if buf == nil {
		return nil, errors.New("WTSQuerySessionInformationW: no buffer")
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	return bytes.Clone(unsafe.Slice(buf, min(n, 64<<10))), nil
}
