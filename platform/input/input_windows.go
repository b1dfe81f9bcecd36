package input

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// guidDevinterfaceHID is GUID_DEVINTERFACE_HID (hidclass.h).
var guidDevinterfaceHID = windows.GUID{Data1: 0x4d1e55b2, Data2: 0xf16f, Data3: 0x11cf, Data4: [8]byte{0x88, 0xcb, 0x00, 0x11, 0x11, 0x00, 0x00, 0x30}}

// devpkeyParent is DEVPKEY_Device_Parent (devpkey.h).
var devpkeyParent = windows.DEVPROPKEY{
	FmtID: windows.DEVPROPGUID{Data1: 0x4340a6c5, Data2: 0x93fa, Data3: 0x4706, Data4: [8]byte{0x97, 0x2c, 0x7b, 0x64, 0x80, 0x08, 0xa5, 0xa7}},
	PID:   8,
}

// SetupAPI interface calls that golang.org/x/sys/windows does not wrap,
// and hid.dll.
var (
	modSetupapi                      = windows.NewLazySystemDLL("setupapi.dll")
	procSetupDiEnumDeviceInterfaces  = modSetupapi.NewProc("SetupDiEnumDeviceInterfaces")
	procSetupDiGetDeviceInterfaceDtl = modSetupapi.NewProc("SetupDiGetDeviceInterfaceDetailW")

	modHid                        = windows.NewLazySystemDLL("hid.dll")
	procHidDGetAttributes         = modHid.NewProc("HidD_GetAttributes")
	procHidDGetManufacturerString = modHid.NewProc("HidD_GetManufacturerString")
	procHidDGetProductString      = modHid.NewProc("HidD_GetProductString")
	procHidDGetPreparsedData      = modHid.NewProc("HidD_GetPreparsedData")
	procHidDFreePreparsedData     = modHid.NewProc("HidD_FreePreparsedData")
	procHidPGetCaps               = modHid.NewProc("HidP_GetCaps")
	procHidPGetValueCaps          = modHid.NewProc("HidP_GetValueCaps")
)

// spDeviceInterfaceData is SP_DEVICE_INTERFACE_DATA (setupapi.h), 32 bytes
// on 64-bit Windows.
type spDeviceInterfaceData struct {
	Size               uint32
	InterfaceClassGUID windows.GUID
	Flags              uint32
	Reserved           uintptr
}

// spDeviceInterfaceDetailDataSize is sizeof(SP_DEVICE_INTERFACE_DETAIL_DATA_W)
// on 64-bit Windows: a DWORD cbSize and one WCHAR, padded to 8. The
// DevicePath starts at offset 4.
const spDeviceInterfaceDetailDataSize = 8

const (
	hidpStatusSuccess = 0x00110000 // HIDP_STATUS_SUCCESS
	hidpInput         = 0          // HidP_Input (HIDP_REPORT_TYPE)
	// maxHIDInterfaces bounds the enumeration; a laptop has a few dozen
	// HID collections, a desk with a receiver and a dock about a hundred.
	maxHIDInterfaces = 4096
	// maxInterfacePath bounds a device interface path, in bytes.
	maxInterfacePath = 64 << 10
)

// list enumerates the present HID device interfaces through SetupAPI,
// queries each through hid.dll (hidpRecords) and maps them with fromHidp.
// Per-device failures are joined into the error next to the devices that
// were read.
func list(ctx context.Context) ([]Device, error) {
	recs, err := hidpRecords(ctx)
	return fromHidp(recs), err
}

func hidpRecords(ctx context.Context) ([]hidpRecord, error) {
	for _, p := range []*windows.LazyProc{procSetupDiEnumDeviceInterfaces, procSetupDiGetDeviceInterfaceDtl,
		procHidDGetAttributes, procHidDGetManufacturerString, procHidDGetProductString, procHidDGetPreparsedData,
		procHidDFreePreparsedData, procHidPGetCaps, procHidPGetValueCaps} {
		if err := p.Find(); err != nil { // a LazyProc panics on Call when missing
			return nil, err
		}
	}
	set, err := windows.SetupDiGetClassDevsEx(&guidDevinterfaceHID, "", 0, windows.DIGCF_PRESENT|windows.DIGCF_DEVICEINTERFACE, 0, "")
	if err != nil {
		return nil, fmt.Errorf("SetupDiGetClassDevsEx(GUID_DEVINTERFACE_HID): %w", err)
	}
	defer set.Close()
	var recs []hidpRecord
	var errs []error
	for i := 0; i < maxHIDInterfaces && len(recs) < maxHIDInterfaces; i++ {
		if err := ctx.Err(); err != nil {
			return recs, err
		}
		data, err := set.EnumDeviceInfo(i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("SetupDiEnumDeviceInfo(%d): %w", i, err))
			continue
		}
		instanceID, _ := set.DeviceInstanceID(data)
		parent := ""
		if v, err := windows.SetupDiGetDeviceProperty(set, data, &devpkeyParent); err == nil {
			parent, _ = v.(string)
		}
		// A HID collection's device node has one HID interface; the loop
		// takes whatever SetupAPI lists.
		for j := 0; j < 16; j++ {
			path, err := interfacePath(set, data, j)
			if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
				break
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", instanceID, err))
				break
			}
			r := hidpRecord{Path: path, InstanceID: instanceID, Parent: parent}
			if err := queryHID(&r); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", instanceID, err))
			}
			recs = append(recs, r)
		}
	}
	return recs, errors.Join(errs...)
}

// interfacePath returns the path of the index-th HID interface of a device.
func interfacePath(set windows.DevInfo, data *windows.DevInfoData, index int) (string, error) {
	ifd := spDeviceInterfaceData{Size: uint32(unsafe.Sizeof(spDeviceInterfaceData{}))}
	r1, _, e := procSetupDiEnumDeviceInterfaces.Call(uintptr(set), uintptr(unsafe.Pointer(data)),
		uintptr(unsafe.Pointer(&guidDevinterfaceHID)), uintptr(index), uintptr(unsafe.Pointer(&ifd)))
	if r1 == 0 {
		return "", callErr("SetupDiEnumDeviceInterfaces", e)
	}
	var need uint32
	r1, _, e = procSetupDiGetDeviceInterfaceDtl.Call(uintptr(set), uintptr(unsafe.Pointer(&ifd)), 0, 0, uintptr(unsafe.Pointer(&need)), 0)
	if r1 == 0 && !errors.Is(e, windows.ERROR_INSUFFICIENT_BUFFER) {
		return "", callErr("SetupDiGetDeviceInterfaceDetail", e)
	}
	if need < spDeviceInterfaceDetailDataSize || need > maxInterfacePath {
		return "", fmt.Errorf("SetupDiGetDeviceInterfaceDetail: size %d", need)
	}
	// uint64 words keep the buffer aligned for the struct's DWORD.
	buf := make([]uint64, (need+7)/8)
	base := unsafe.Pointer(&buf[0])
	*(*uint32)(base) = spDeviceInterfaceDetailDataSize
	r1, _, e = procSetupDiGetDeviceInterfaceDtl.Call(uintptr(set), uintptr(unsafe.Pointer(&ifd)), uintptr(base), uintptr(need), 0, 0)
	if r1 == 0 {
		return "", callErr("SetupDiGetDeviceInterfaceDetail", e)
	}
	path := unsafe.Slice((*uint16)(unsafe.Add(base, 4)), (need-4)/2)
	return windows.UTF16ToString(path), nil
}

// queryHID opens one interface with no access rights (which works for
// keyboards and mice the OS holds exclusively, and needs no elevation) and
// reads its attributes, strings and capabilities into r.
func queryHID(r *hidpRecord) error {
	p, err := windows.UTF16PtrFromString(r.Path)
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(p, 0, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		return fmt.Errorf("CreateFile: %w", err)
	}
	defer windows.CloseHandle(h)
	r.Opened = true

	r.Attributes.Size = uint32(unsafe.Sizeof(r.Attributes))
	if ok, _, _ := procHidDGetAttributes.Call(uintptr(h), uintptr(unsafe.Pointer(&r.Attributes))); byte(ok) != 0 {
		r.HasAttributes = true
	}
	r.Manufacturer = hidString(procHidDGetManufacturerString, h)
	r.Product = hidString(procHidDGetProductString, h)

	var pp uintptr // PHIDP_PREPARSED_DATA
	if ok, _, e := procHidDGetPreparsedData.Call(uintptr(h), uintptr(unsafe.Pointer(&pp))); byte(ok) == 0 {
		return callErr("HidD_GetPreparsedData", e)
	}
	defer procHidDFreePreparsedData.Call(pp)
	if st, _, _ := procHidPGetCaps.Call(pp, uintptr(unsafe.Pointer(&r.Caps))); uint32(st) != hidpStatusSuccess {
		return fmt.Errorf("HidP_GetCaps: status 0x%08x", uint32(st))
	}
	r.HasCaps = true
	n := r.Caps.NumberInputValueCaps
	switch {
	case n == 0:
		return nil
	case n > maxValueCaps:
		r.TooManyCaps = true
		return nil
	}
	vc := make([]hidpValueCaps, n)
	if st, _, _ := procHidPGetValueCaps.Call(hidpInput, uintptr(unsafe.Pointer(&vc[0])), uintptr(unsafe.Pointer(&n)), pp); uint32(st) != hidpStatusSuccess {
		return fmt.Errorf("HidP_GetValueCaps: status 0x%08x", uint32(st))
	}
	r.ValueCaps = vc[:min(int(n), len(vc))]
	return nil
}

// hidString calls HidD_GetManufacturerString or HidD_GetProductString; a
// device without the string gives "". USB strings are at most 126 UTF-16
// units.
func hidString(proc *windows.LazyProc, h windows.Handle) string {
	var buf [256]uint16
	if ok, _, _ := proc.Call(uintptr(h), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)*2-2)); byte(ok) == 0 {
		return ""
	}
	return windows.UTF16ToString(buf[:])
}

// callErr wraps the last error of a failed LazyProc call.
func callErr(name string, e error) error {
	if e == nil || errors.Is(e, windows.ERROR_SUCCESS) {
		return fmt.Errorf("%s failed", name)
	}
	return fmt.Errorf("%s: %w", name, e)
}
