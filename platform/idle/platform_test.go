package idle

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseHIDIdle(t *testing.T) {
	rec, err := os.ReadFile("testdata/ioreg_hididletime.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   string
		want time.Duration
		err  bool
	}{
		{"recorded", string(rec), 4238166625 * time.Nanosecond, false},
		{"two systems, smallest wins", "\"HIDIdleTime\" = 900\n  \"HIDIdleTime\" = 700\n", 700, false},
		{"garbage value skipped", "\"HIDIdleTime\" = <data>\n\"HIDIdleTime\" = 5\n", 5, false},
		{"beyond a year is capped", "\"HIDIdleTime\" = 18446744073709551615\n", MaxIdle, false},
		{"empty output", "", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseHIDIdle([]byte(c.in))
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("= %v, %v; want %v, error %v", got, err, c.want, c.err)
			}
		})
	}
}

// wtsInfo builds a WTSINFOW as wtsapi32 lays it out.
func wtsInfo(state uint32, last, now int64) []byte {
	b := make([]byte, wtsInfoSize)
	binary.LittleEndian.PutUint32(b[0:], state)
	binary.LittleEndian.PutUint32(b[4:], 1) // SessionId
	user := "ann"
	for i, c := range user { // UserName at 32+2*(32+17)
		binary.LittleEndian.PutUint16(b[32+2*49+2*i:], uint16(c))
	}
	binary.LittleEndian.PutUint64(b[176+2*8:], uint64(last))
	binary.LittleEndian.PutUint64(b[176+4*8:], uint64(now))
	return b
}

func TestWTSIdle(t *testing.T) {
	now := int64(133_700_000_000_000_000) // a 2024 FILETIME
	for _, c := range []struct {
		name   string
		b      []byte
		active bool
		want   time.Duration
		err    error
	}{
		{"active, 90 s idle", wtsInfo(wtsActive, now-900_000_000, now), true, 90 * time.Second, nil},
		{"disconnected session skipped", wtsInfo(4, now-1, now), false, 0, nil},
		{"no input time", wtsInfo(wtsActive, 0, now), true, 0, errNoInputTime},
		{"input after now clamps to 0", wtsInfo(wtsActive, now+10, now), true, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			active, d, err := wtsIdle(c.b)
			if active != c.active || d != c.want || !errors.Is(err, c.err) {
				t.Fatalf("= %v, %v, %v; want %v, %v, %v", active, d, err, c.active, c.want, c.err)
			}
		})
	}
	if _, _, err := wtsIdle(make([]byte, 100)); err == nil {
		t.Error("short WTSINFO accepted")
	}
}

func TestParseXauthority(t *testing.T) {
	entry := func(fam uint16, addr, num, name string, data []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, fam)
		for _, f := range [][]byte{[]byte(addr), []byte(num), []byte(name), data} {
			b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
			b = append(b, f...)
		}
		return b
	}
	c1, c2, c3 := []byte("0123456789abcdef"), []byte("fedcba9876543210"), []byte("wildwildwildwild")
	var file []byte
	file = append(file, entry(familyLocal, "other", "0", cookieName, c1)...)
	file = append(file, entry(familyLocal, "laptop", "0", cookieName, c2)...)
	file = append(file, entry(0, "\x7f\x00\x00\x01", "0", cookieName, []byte("tcp-only-cookie!"))...)
	file = append(file, entry(familyLocal, "laptop", "0", "XDM-AUTHORIZATION-1", []byte("x"))...)
	file = append(file, entry(familyWild, "", "", cookieName, c3)...)
	file = append(file, entry(familyLocal, "laptop", "1", cookieName, []byte("display-one-only"))...)
	file = append(file, 1, 0, 0, 9) // truncated tail, ignored as libXau does
	got := cookies(parseXauthority(file), 0, "laptop")
	want := [][]byte{c2, c3, c1} // this host and wildcards first, other host names last
	if len(got) != len(want) {
		t.Fatalf("cookies = %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("cookies = %q, want %q", got, want)
		}
	}
}

// Connection setup replies: the root window is found past the vendor string and formats;
// a failure carries the server's reason.
func TestParseSetup(t *testing.T) {
	body := make([]byte, 32)
	binary.LittleEndian.PutUint16(body[16:], 5) // vendor "Xvfb!" padded to 8
	body[20], body[21] = 1, 2                   // one screen, two formats
	body = append(body, "Xvfb!\x00\x00\x00"...)
	body = append(body, make([]byte, 16)...)
	body = binary.LittleEndian.AppendUint32(body, 0x4a1)
	root, err := parseSetup([8]byte{1}, body)
	if err != nil || root != 0x4a1 {
		t.Fatalf("root = %#x, %v; want 0x4a1", root, err)
	}
	reason := []byte("No protocol specified\n\x00\x00")
	if _, err := parseSetup([8]byte{0, 22}, reason); !errors.Is(err, errRefused) {
		t.Fatalf("failed setup: %v, want errRefused", err)
	}
	if _, err := parseSetup([8]byte{1}, body[:40]); err == nil {
		t.Fatal("truncated setup accepted")
	}
}
