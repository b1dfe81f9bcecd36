package block

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
)

// Setup classes (devguid.h) and the parent property key (devpkey.h).
var (
	guidDevclassDiskDrive = windows.GUID{Data1: 0x4d36e967, Data2: 0xe325, Data3: 0x11ce, Data4: [8]byte{0xbf, 0xc1, 0x08, 0x00, 0x2b, 0xe1, 0x03, 0x18}}
	guidDevclassCDROM     = windows.GUID{Data1: 0x4d36e965, Data2: 0xe325, Data3: 0x11ce, Data4: [8]byte{0xbf, 0xc1, 0x08, 0x00, 0x2b, 0xe1, 0x03, 0x18}}
	devpkeyParent         = windows.DEVPROPKEY{
		FmtID: windows.DEVPROPGUID{Data1: 0x4340a6c5, Data2: 0x93fa, Data3: 0x4706, Data4: [8]byte{0x97, 0x2c, 0x7b, 0x64, 0x80, 0x08, 0xa5, 0xa7}},
		PID:   8,
	}
)

// maxDevNodes bounds each enumeration.
const maxDevNodes = 4096

func list(ctx context.Context) ([]Disk, error) {
	var recs []diskRecord
	var errs []error
	for _, g := range []*windows.GUID{&guidDevclassDiskDrive, &guidDevclassCDROM} {
		err := enumerate(ctx, g, "", windows.DIGCF_PRESENT, func(set windows.DevInfo, data *windows.DevInfoData, id string) {
			r := diskRecord{InstanceID: id, Parent: devString(set, data, &devpkeyParent)}
			if v, err := set.DeviceRegistryProperty(data, windows.SPDRP_HARDWAREID); err == nil {
				r.HardwareIDs, _ = v.([]string)
			}
			if v, err := set.DeviceRegistryProperty(data, windows.SPDRP_FRIENDLYNAME); err == nil {
				r.FriendlyName, _ = v.(string)
			}
			if v, err := set.DeviceRegistryProperty(data, windows.SPDRP_REMOVAL_POLICY); err == nil {
				r.RemovalPolicy, _ = v.(uint32)
			}
			recs = append(recs, r)
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	// A drive's parent is a USB function (MI_xx) of a composite device;
	// name the device itself, as usb.List does.
	needParents := false
	for _, r := range recs {
		needParents = needParents || strings.Contains(strings.ToUpper(r.Parent), "&MI_")
	}
	if needParents {
		parents := map[string]string{}
		err := enumerate(ctx, nil, "USB", windows.DIGCF_ALLCLASSES|windows.DIGCF_PRESENT, func(set windows.DevInfo, data *windows.DevInfoData, id string) {
			parents[strings.ToUpper(id)] = devString(set, data, &devpkeyParent)
		})
		if err != nil {
			errs = append(errs, err)
		}
		for i, r := range recs {
			if strings.Contains(strings.ToUpper(r.Parent), "&MI_") {
				recs[i].USBDevice = parents[strings.ToUpper(r.Parent)]
			}
		}
	}
	return fromSetupAPI(recs), errors.Join(errs...)
}

// enumerate calls fn for every device node of a class or enumerator.
func enumerate(ctx context.Context, class *windows.GUID, enumerator string, flags windows.DIGCF, fn func(windows.DevInfo, *windows.DevInfoData, string)) error {
	set, err := windows.SetupDiGetClassDevsEx(class, enumerator, 0, flags, 0, "")
	if err != nil {
		return fmt.Errorf("SetupDiGetClassDevsEx: %w", err)
	}
	defer set.Close()
	for i := 0; i < maxDevNodes; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := set.EnumDeviceInfo(i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("SetupDiEnumDeviceInfo(%d): %w", i, err)
		}
		id, err := set.DeviceInstanceID(data)
		if err != nil {
			return fmt.Errorf("SetupDiGetDeviceInstanceId(%d): %w", i, err)
		}
		fn(set, data, id)
	}
	return nil
}

func devString(set windows.DevInfo, data *windows.DevInfoData, key *windows.DEVPROPKEY) string {
	v, err := windows.SetupDiGetDeviceProperty(set, data, key)
	if err != nil {
		return ""
	}
	s, _ := v.(string)
	return s
}
