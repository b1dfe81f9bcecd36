package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/farmwatch/farmwatch/platform/netif"
)

func read(ctx context.Context) (Identity, error) {
	var errs []error
	id := Identity{OS: "darwin", Platform: "macOS", Arch: runtime.GOARCH}
	var err error
	if id.Hostname, err = os.Hostname(); err != nil {
		errs = append(errs, fmt.Errorf("hostname: %w", err))
	}
	// kern.osproductversion exists since macOS 10.13.4; no need to run sw_vers.
	if id.OSVersion, err = unix.Sysctl("kern.osproductversion"); err != nil {
		errs = append(errs, fmt.Errorf("sysctl kern.osproductversion: %w", err))
	}
	id.PrettyName = "macOS " + id.OSVersion
	if id.KernelVersion, err = unix.Sysctl("kern.osrelease"); err != nil {
		errs = append(errs, fmt.Errorf("sysctl kern.osrelease: %w", err))
	}
	// The platform UUID and serial live in the IORegistry; reaching IOKit
	// without cgo is what ioreg is for (gopsutil does the same).
	cmd := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice")
	if stdout, err := cmd.StdoutPipe(); err != nil {
		errs = append(errs, fmt.Errorf("ioreg: %w", err))
	} else if err := cmd.Start(); err != nil {
		errs = append(errs, fmt.Errorf("ioreg: %w", err))
	} else {
		out, _ := io.ReadAll(io.LimitReader(stdout, maxFile))
		if err := cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("ioreg: %w", err))
		}
		id.HardwareUUID, id.SerialNumber = ioregPlatform(out)
	}
	if ifs, err := netif.List(ctx, ""); err != nil {
		errs = append(errs, err)
	} else {
		id.MACAddresses = physicalMACs(ifs)
	}
	return id, errors.Join(errs...)
}
