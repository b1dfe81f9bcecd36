package probe

import (
	"context"
	"net"
	"testing"
	"time"
)

// serve runs a one-shot TCP server on loopback that behaves like fn.
func serve(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); fn(c) }()
		}
	}()
	return l.Addr().String()
}

func TestIdentify(t *testing.T) {
	rdpReply := []byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00}
	for _, tc := range []struct {
		name   string
		server func(net.Conn)
		want   Protocol
		banner string
	}{
		{"vnc server", func(c net.Conn) { c.Write([]byte("RFB 003.008\n")); time.Sleep(time.Second) }, RFB, "RFB 003.008"},
		{"slow vnc server", func(c net.Conn) {
			time.Sleep(250 * time.Millisecond)
			c.Write([]byte("RFB 003.008\n"))
			time.Sleep(time.Second)
		}, RFB, "RFB 003.008"},
		{"rdp server", func(c net.Conn) {
			req := make([]byte, 19)
			if _, err := c.Read(req); err == nil && req[5] == 0xe0 {
				c.Write(rdpReply)
			}
		}, RDP, "RDP negotiation response, protocol TLS"},
		{"ssh server", func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n")) }, None, ""},
		{"silent server", func(c net.Conn) { time.Sleep(time.Second) }, None, ""},
		{"closes at once", func(c net.Conn) {}, None, ""},
	} {
		addr := serve(t, tc.server)
		got, err := Identify(context.Background(), addr, 200*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Silent != (tc.name == "silent server") {
			t.Errorf("%s: silent = %v", tc.name, got.Silent)
		}
		if got.Protocol != tc.want || got.Banner != tc.banner {
			t.Errorf("%s: got %+v, want %s %q", tc.name, got, tc.want, tc.banner)
		}
	}
}

func TestIdentifyRefused(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if _, err := Identify(context.Background(), addr, 100*time.Millisecond); err == nil {
		t.Fatal("no error for a closed port")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("RFB 003.008\n"))
	f.Add([]byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00})
	f.Add([]byte{0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, ok := ParseRFBGreeting(b); ok && len(v) != 11 {
			t.Fatalf("RFB banner %q", v)
		}
		if v, ok := ParseRDPConfirm(b); ok && v == "" {
			t.Fatal("RDP recognised without a description")
		}
	})
}
