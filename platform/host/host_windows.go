package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/farmwatch/farmwatch/platform/netif"
)

func read(ctx context.Context) (Identity, error) {
	var errs []error
	id := Identity{OS: "windows", Arch: runtime.GOARCH}
	var err error
	if id.Hostname, err = os.Hostname(); err != nil {
		errs = append(errs, fmt.Errorf("hostname: %w", err))
	}
	if err := readVersion(&id); err != nil {
		errs = append(errs, err)
	}
	if id.MachineID, err = regString(`SOFTWARE\Microsoft\Cryptography`, "MachineGuid"); err != nil {
		errs = append(errs, err)
	}
	id.MachineID = strings.ToLower(id.MachineID)
	if raw, err := firmwareTable(); err != nil {
		errs = append(errs, err)
	} else if id.HardwareUUID, id.SerialNumber, err = smbiosSystem(raw); err != nil {
		errs = append(errs, err)
	}
	if ifs, err := netif.List(ctx, ""); err != nil {
		errs = append(errs, err)
	} else {
		id.MACAddresses = physicalMACs(ifs)
	}
	return id, errors.Join(errs...)
}

const currentVersion = `SOFTWARE\Microsoft\Windows NT\CurrentVersion`

// readVersion fills Platform, PrettyName, OSVersion and KernelVersion from
// the CurrentVersion key.
func readVersion(id *Identity) error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, currentVersion, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return fmt.Errorf("open HKLM\\%s: %w", currentVersion, err)
	}
	defer k.Close()
	product, _, err := k.GetStringValue("ProductName")
	if err != nil {
		return fmt.Errorf("read HKLM\\%s\\ProductName: %w", currentVersion, err)
	}
	build, _, _ := k.GetStringValue("CurrentBuildNumber")
	// Windows 11 still says "Windows 10" in ProductName; build 22000 is 11.
	if n, err := strconv.Atoi(build); err == nil && n >= 22000 {
		product = strings.Replace(product, "Windows 10", "Windows 11", 1)
	}
	id.Platform = product
	id.OSVersion, _, _ = k.GetStringValue("DisplayVersion")
	if id.OSVersion == "" {
		id.OSVersion, _, _ = k.GetStringValue("ReleaseId")
	}
	id.PrettyName = strings.TrimSpace(product + " " + id.OSVersion)
	major, _, errMajor := k.GetIntegerValue("CurrentMajorVersionNumber")
	minor, _, _ := k.GetIntegerValue("CurrentMinorVersionNumber")
	ubr, _, errUBR := k.GetIntegerValue("UBR")
	if errMajor == nil {
		id.KernelVersion = fmt.Sprintf("%d.%d.%s", major, minor, build)
		if errUBR == nil {
			id.KernelVersion += "." + strconv.FormatUint(ubr, 10)
		}
	}
	return nil
}

func regString(path, name string) (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, path, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", fmt.Errorf("open HKLM\\%s: %w", path, err)
	}
	defer k.Close()
	v, _, err := k.GetStringValue(name)
	if err != nil {
		return "", fmt.Errorf("read HKLM\\%s\\%s: %w", path, name, err)
	}
	return strings.TrimSpace(v), nil
}

// firmwareTable returns the raw SMBIOS table ('RSMB' provider), at most
// 1 MiB (real tables are a few KiB).
func firmwareTable() ([]byte, error) {
	const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'
	proc := windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")
	if err := proc.Find(); err != nil {
		return nil, fmt.Errorf("GetSystemFirmwareTable: %w", err)
	}
	n, _, err := proc.Call(rsmb, 0, 0, 0)
	if n == 0 {
		return nil, fmt.Errorf("GetSystemFirmwareTable size: %w", err)
	}
	if n > 1<<20 {
		return nil, fmt.Errorf("GetSystemFirmwareTable: table of %d bytes is implausible", n)
	}
	buf := make([]byte, n)
	got, _, err := proc.Call(rsmb, 0, uintptr(unsafe.Pointer(&buf[0])), n)
	if got == 0 || got > n {
		return nil, fmt.Errorf("GetSystemFirmwareTable: %w", err)
	}
	return buf[:got], nil
}
