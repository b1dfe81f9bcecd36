package host

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// smbiosSystem returns the system UUID and serial number from the SMBIOS
// type 1 (System Information) structure in a raw table as Windows'
// GetSystemFirmwareTable('RSMB') returns it: an 8-byte header (calling
// method, major, minor, DMI revision, uint32 length) then the structures.
// It is pure parsing of untrusted bytes and builds on every OS for tests.
func smbiosSystem(raw []byte) (uuid, serial string, err error) {
	if len(raw) < 8 {
		return "", "", fmt.Errorf("smbios: %d-byte table has no header", len(raw))
	}
	major, minor := raw[1], raw[2]
	n := binary.LittleEndian.Uint32(raw[4:8])
	data := raw[8:]
	if uint64(n) < uint64(len(data)) {
		data = data[:n]
	}
	for len(data) >= 4 {
		typ, length := data[0], int(data[1])
		if length < 4 || length > len(data) {
			return "", "", fmt.Errorf("smbios: structure type %d has bad length %d", typ, length)
		}
		formatted := data[:length]
		// The string set ends with two NULs.
		end := bytes.Index(data[length:], []byte{0, 0})
		if end < 0 {
			return "", "", fmt.Errorf("smbios: structure type %d has unterminated strings", typ)
		}
		strs := bytes.Split(data[length:length+end], []byte{0})
		data = data[length+end+2:]
		if typ == 127 { // end of table
			break
		}
		if typ != 1 {
			continue
		}
		if length > 0x07 {
			serial = smbiosString(strs, formatted[0x07])
		}
		if length >= 0x18 {
			uuid = formatUUID(formatted[0x08:0x18], major > 2 || major == 2 && minor >= 6)
		}
		return uuid, serial, nil
	}
	return "", "", fmt.Errorf("smbios: no system information structure")
}

// smbiosString returns string number idx (1-based, 0 means none).
func smbiosString(strs [][]byte, idx byte) string {
	if idx == 0 || int(idx) > len(strs) {
		return ""
	}
	return strings.TrimSpace(string(strs[idx-1]))
}

// formatUUID formats a 16-byte SMBIOS UUID. From SMBIOS 2.6 the first three
// fields are little-endian. All-zero and all-0xFF mean "not present" (spec).
func formatUUID(b []byte, littleEndian bool) string {
	if bytes.Count(b, []byte{0}) == 16 || bytes.Count(b, []byte{0xff}) == 16 {
		return ""
	}
	u := make([]byte, 16)
	copy(u, b)
	if littleEndian {
		u[0], u[1], u[2], u[3] = u[3], u[2], u[1], u[0]
		u[4], u[5] = u[5], u[4]
		u[6], u[7] = u[7], u[6]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// ioregPlatform returns IOPlatformUUID and IOPlatformSerialNumber from the
// output of `ioreg -rd1 -c IOPlatformExpertDevice` (macOS), lines such as
//
//	"IOPlatformUUID" = "5C8B2A1E-..."
func ioregPlatform(out []byte) (uuid, serial string) {
	for line := range strings.SplitSeq(string(out), "\n") {
		key, value, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if !ok {
			continue
		}
		value = strings.Trim(value, `"`)
		switch key {
		case `"IOPlatformUUID"`:
			uuid = strings.ToLower(value)
		case `"IOPlatformSerialNumber"`:
			serial = value
		}
	}
	return uuid, serial
}
