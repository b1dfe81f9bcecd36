package idle

import (
	"bytes"
	"testing"
)

// The X server, the Xauthority file and ioreg's output are all untrusted bytes.

func FuzzParseXauthority(f *testing.F) {
	f.Add([]byte("\x01\x00\x00\x06laptop\x00\x010\x00\x12MIT-MAGIC-COOKIE-1\x00\x02ab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range parseXauthority(b) {
			_ = cookies([]xauth{e}, 0, "laptop")
		}
	})
}

func FuzzX11Replies(f *testing.F) {
	f.Add([]byte{1, 0, 11, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var head [8]byte
		copy(head[:], b)
		if len(b) > 8 {
			_, _ = parseSetup(head, b[8:])
		}
		_, _ = x11Reply(bytes.NewReader(b), 1)
	})
}

func FuzzParseHIDIdle(f *testing.F) {
	f.Add([]byte(`"HIDIdleTime" = 12345`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseHIDIdle(b); err == nil && (d < 0 || d > MaxIdle) {
			t.Fatalf("idle %v out of range", d)
		}
	})
}
