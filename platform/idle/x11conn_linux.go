package idle

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// x11Timeout bounds one display's whole exchange: a local X server answers in well under a
// millisecond, and a socket that hangs is someone else's process, not ours to wait on.
const x11Timeout = 2 * time.Second

// queryX11Idle speaks X11 over conn: connection setup with the given authorization (empty
// name for none), then QueryExtension("MIT-SCREEN-SAVER") and ScreenSaverQueryInfo on the
// first screen's root window, and returns the server's milliseconds since the last input.
// Replies are read bounded; the deadline comes from ctx or x11Timeout, whichever is sooner.
func queryX11Idle(ctx context.Context, conn net.Conn, authName string, authData []byte) (time.Duration, error) {
	deadline := time.Now().Add(x11Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	root, err := x11Setup(conn, authName, authData)
	if err != nil {
		return 0, err
	}
	major, err := x11QueryExtension(conn, "MIT-SCREEN-SAVER", 1)
	if err != nil {
		return 0, err
	}
	// ScreenSaverQueryInfo: major, minor 1, length 2 words, drawable.
	req := make([]byte, 8)
	req[0], req[1] = major, 1
	binary.LittleEndian.PutUint16(req[2:], 2)
	binary.LittleEndian.PutUint32(req[4:], root)
	if _, err := conn.Write(req); err != nil {
		return 0, fmt.Errorf("ScreenSaverQueryInfo: %w", err)
	}
	rep, err := x11Reply(conn, 2)
	if err != nil {
		return 0, fmt.Errorf("ScreenSaverQueryInfo: %w", err)
	}
	ms := binary.LittleEndian.Uint32(rep[16:20])
	return clamp(time.Duration(ms) * time.Millisecond), nil
}

// x11Setup sends the connection setup request (little-endian, protocol 11.0) and returns the
// root window of the first screen.
func x11Setup(conn io.ReadWriter, authName string, authData []byte) (uint32, error) {
	if len(authName) > 0xffff || len(authData) > 0xffff {
		return 0, errors.New("x11: authorization too long")
	}
	req := make([]byte, 12, 12+pad4(len(authName))+pad4(len(authData)))
	req[0] = 'l'
	binary.LittleEndian.PutUint16(req[2:], 11)
	binary.LittleEndian.PutUint16(req[4:], 0)
	binary.LittleEndian.PutUint16(req[6:], uint16(len(authName)))
	binary.LittleEndian.PutUint16(req[8:], uint16(len(authData)))
	req = append(req, authName...)
	req = append(req, make([]byte, pad4(len(authName))-len(authName))...)
	req = append(req, authData...)
	req = append(req, make([]byte, pad4(len(authData))-len(authData))...)
	if _, err := conn.Write(req); err != nil {
		return 0, fmt.Errorf("x11: connection setup: %w", err)
	}
	var head [8]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return 0, fmt.Errorf("x11: connection setup: %w", err)
	}
	n := int(binary.LittleEndian.Uint16(head[6:])) * 4
	if n > maxSetupReply {
		return 0, fmt.Errorf("x11: connection setup: reply of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return 0, fmt.Errorf("x11: connection setup: %w", err)
	}
	return parseSetup(head, body)
}

// x11QueryExtension asks for an extension's major opcode; seq is the request's sequence number.
func x11QueryExtension(conn io.ReadWriter, name string, seq uint16) (byte, error) {
	req := make([]byte, 8, 8+pad4(len(name)))
	req[0] = 98 // QueryExtension
	binary.LittleEndian.PutUint16(req[2:], uint16(2+pad4(len(name))/4))
	binary.LittleEndian.PutUint16(req[4:], uint16(len(name)))
	req = append(req, name...)
	req = append(req, make([]byte, pad4(len(name))-len(name))...)
	if _, err := conn.Write(req); err != nil {
		return 0, fmt.Errorf("QueryExtension: %w", err)
	}
	rep, err := x11Reply(conn, seq)
	if err != nil {
		return 0, fmt.Errorf("QueryExtension %s: %w", name, err)
	}
	if rep[8] == 0 {
		return 0, fmt.Errorf("x11: server has no %s extension", name)
	}
	return rep[9], nil
}

// maxXauth bounds an Xauthority file read: a user's holds a few entries of ~50 bytes.
const maxXauth = 64 << 10
