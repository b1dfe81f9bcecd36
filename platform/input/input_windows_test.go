package input

import (
	"context"
	"testing"
	"unsafe"
)

// The structures handed to setupapi.dll and hid.dll, at their Windows
// sizes (64-bit: amd64 and arm64).
func TestWindowsStructSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"SP_DEVICE_INTERFACE_DATA", unsafe.Sizeof(spDeviceInterfaceData{}), 32},
		{"HIDD_ATTRIBUTES", unsafe.Sizeof(hidpAttributes{}), 12},
		{"HIDP_CAPS", unsafe.Sizeof(hidpCaps{}), 64},
		{"HIDP_VALUE_CAPS", unsafe.Sizeof(hidpValueCaps{}), 72},
	} {
		if c.got != c.want {
			t.Errorf("sizeof(%s) = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestListWindowsLive(t *testing.T) {
	devs, err := List(context.Background(), "")
	if err != nil {
		t.Logf("List: %v", err) // per-device failures; devices read are kept
	}
	for _, d := range devs {
		t.Logf("%+v", d)
	}
}
