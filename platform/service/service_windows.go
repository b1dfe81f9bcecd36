package service

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

func list(ctx context.Context) ([]Service, error) {
	// Connect with the least rights that enumerate and read configuration:
	// mgr.Connect asks for SC_MANAGER_ALL_ACCESS, which needs an
	// administrator.
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return nil, fmt.Errorf("open service manager: %w", err)
	}
	defer windows.CloseServiceHandle(h)
	entries, err := enumServices(h)
	if err != nil {
		return nil, fmt.Errorf("enumerate services: %w", err)
	}
	var svcs []Service
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return svcs, err
		}
		s := Service{Name: e.name, DisplayName: e.display, Manager: "scm", Running: e.state == windows.SERVICE_RUNNING}
		if err := config(h, &s); err != nil && len(errs) < 5 {
			errs = append(errs, fmt.Errorf("service %s: %w", e.name, err))
		}
		svcs = append(svcs, s)
	}
	return svcs, errors.Join(errs...)
}

type enumEntry struct {
	name, display string
	state         uint32
}

// enumServices lists the Win32 services with their display names and
// states (drivers are not services for List).
func enumServices(h windows.Handle) ([]enumEntry, error) {
	var buf []byte
	var needed, returned, resume uint32
	var out []enumEntry
	for {
		var p *byte
		if len(buf) > 0 {
			p = &buf[0]
		}
		err := windows.EnumServicesStatusEx(h, windows.SC_ENUM_PROCESS_INFO, windows.SERVICE_WIN32,
			windows.SERVICE_STATE_ALL, p, uint32(len(buf)), &needed, &returned, &resume, nil)
		if returned > 0 {
			for _, s := range unsafe.Slice((*windows.ENUM_SERVICE_STATUS_PROCESS)(unsafe.Pointer(&buf[0])), int(returned)) {
				out = append(out, enumEntry{
					name:    windows.UTF16PtrToString(s.ServiceName),
					display: windows.UTF16PtrToString(s.DisplayName),
					state:   s.ServiceStatusProcess.CurrentState,
				})
			}
		}
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, syscall.ERROR_MORE_DATA) {
			return out, err
		}
		if needed > uint32(len(buf)) {
			buf = make([]byte, needed)
		} else if returned == 0 {
			return out, err
		}
	}
}

// config fills Program, Args, Enabled and User from QueryServiceConfig.
func config(h windows.Handle, s *Service) error {
	name, err := windows.UTF16PtrFromString(s.Name)
	if err != nil {
		return err
	}
	sh, err := windows.OpenService(h, name, windows.SERVICE_QUERY_CONFIG)
	if err != nil {
		return err
	}
	svc := &mgr.Service{Name: s.Name, Handle: sh}
	defer svc.Close()
	c, err := svc.Config()
	if err != nil {
		return err
	}
	s.Program, s.Args = splitImagePath(c.BinaryPathName)
	s.Enabled = c.StartType != mgr.StartDisabled
	s.User = c.ServiceStartName
	if s.DisplayName == "" {
		s.DisplayName = c.DisplayName
	}
	return nil
}
