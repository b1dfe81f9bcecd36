package rdpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unsafe"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"golang.org/x/sys/windows"
)

// wtsClasses are queried for every RDP session, after WTSClientProtocolType.
var wtsClasses = []uint32{wtsUserName, wtsClientName, wtsClientAddress, wtsClientBuildNumber, wtsClientInfo}

// wtsListen is WTSListen in WTS_CONNECTSTATE_CLASS: a listener, nobody's session.
const wtsListen = 6

// clients reads the RDP sessions from wtsapi32. A session that ends while
// it is being read loses the classes queried after its end.
func clients(ctx context.Context, _ []Proc) ([]*pb.RdpClient, error) {
	var infos *windows.WTS_SESSION_INFO
	var count uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &infos, &count); err != nil {
		return nil, fmt.Errorf("WTSEnumerateSessions: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(infos)))
	var out []*pb.RdpClient
	for _, si := range unsafe.Slice(infos, count) {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if si.State == wtsListen {
			continue
		}
		s := wtsSession{ID: si.SessionID, Info: map[uint32][]byte{}}
		p, err := wtsQuery(si.SessionID, wtsClientProtocolType)
		if err != nil {
			continue
		}
		s.Info[wtsClientProtocolType] = p
		if _, ok := s.rdpClient(); !ok {
			continue
		}
		for _, class := range wtsClasses {
			if b, err := wtsQuery(si.SessionID, class); err == nil {
				s.Info[class] = b
			}
		}
		if c, ok := s.rdpClient(); ok {
			out = append(out, c)
		}
	}
	return out, nil
}

var procWTSQuerySessionInformationW = windows.NewLazySystemDLL("wtsapi32.dll").NewProc("WTSQuerySessionInformationW")

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
