package usb

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// Device property keys (devpkey.h) that SPDRP_* does not cover.
var (
	devpkeyBusReportedDeviceDesc = windows.DEVPROPKEY{
		FmtID: windows.DEVPROPGUID{Data1: 0x540b947e, Data2: 0x8b40, Data3: 0x45bc, Data4: [8]byte{0xa8, 0xa2, 0x6a, 0x0b, 0x89, 0x4c, 0xbd, 0xa2}},
		PID:   4,
	}
	devpkeyParent = windows.DEVPROPKEY{
		FmtID: windows.DEVPROPGUID{Data1: 0x4340a6c5, Data2: 0x93fa, Data3: 0x4706, Data4: [8]byte{0x97, 0x2c, 0x7b, 0x64, 0x80, 0x08, 0xa5, 0xa7}},
		PID:   8,
	}
)

// maxDevNodes bounds the enumeration; a laptop has a few dozen USB nodes.
const maxDevNodes = 4096

// list enumerates the present device nodes of the USB enumerator through
// SetupAPI and hands the records to fromSetupAPI.
func list(ctx context.Context) ([]Device, error) {
	recs, err := setupRecords(ctx)
	return fromSetupAPI(recs), err
}

func setupRecords(ctx context.Context) ([]setupRecord, error) {
	set, err := windows.SetupDiGetClassDevsEx(nil, "USB", 0, windows.DIGCF_ALLCLASSES|windows.DIGCF_PRESENT, 0, "")
	if err != nil {
		return nil, fmt.Errorf("SetupDiGetClassDevsEx(USB): %w", err)
	}
	defer set.Close()
	var recs []setupRecord
	var errs []error
	for i := 0; i < maxDevNodes; i++ {
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
		r := setupRecord{}
		if r.InstanceID, err = set.DeviceInstanceID(data); err != nil {
			errs = append(errs, fmt.Errorf("SetupDiGetDeviceInstanceId(%d): %w", i, err))
			continue
		}
		r.HardwareIDs = regStrings(set, data, windows.SPDRP_HARDWAREID)
		r.CompatibleIDs = regStrings(set, data, windows.SPDRP_COMPATIBLEIDS)
		r.Mfg = regString(set, data, windows.SPDRP_MFG)
		r.DeviceDesc = regString(set, data, windows.SPDRP_DEVICEDESC)
		r.FriendlyName = regString(set, data, windows.SPDRP_FRIENDLYNAME)
		r.Service = regString(set, data, windows.SPDRP_SERVICE)
		r.Location = regString(set, data, windows.SPDRP_LOCATION_INFORMATION)
		if v, err := set.DeviceRegistryProperty(data, windows.SPDRP_CAPABILITIES); err == nil {
			if c, ok := v.(uint32); ok {
				r.Capabilities = &c
			}
		}
		r.BusReported = devString(set, data, &devpkeyBusReportedDeviceDesc)
		r.Parent = devString(set, data, &devpkeyParent)
		recs = append(recs, r)
	}
	return recs, errors.Join(errs...)
}

// regString reads a REG_SZ device registry property; absent ones are "".
func regString(set windows.DevInfo, data *windows.DevInfoData, p windows.SPDRP) string {
	v, err := set.DeviceRegistryProperty(data, p)
	if err != nil {
		return ""
	}
	s, _ := v.(string)
	return s
}

// regStrings reads a REG_MULTI_SZ device registry property.
func regStrings(set windows.DevInfo, data *windows.DevInfoData, p windows.SPDRP) []string {
	v, err := set.DeviceRegistryProperty(data, p)
	if err != nil {
		return nil
	}
	switch s := v.(type) {
	case []string:
		return s
	case string:
		return []string{s}
	}
	return nil
}

// devString reads a DEVPROP_TYPE_STRING device property.
func devString(set windows.DevInfo, data *windows.DevInfoData, key *windows.DEVPROPKEY) string {
	v, err := windows.SetupDiGetDeviceProperty(set, data, key)
	if err != nil {
		return ""
	}
	s, _ := v.(string)
	return s
}
