package capture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Npcap's wpcap.dll is loaded at the first Open, from the Npcap directory
// only (never from the application directory or PATH), with its own directory
// searched for its dependency Packet.dll.

const (
	pcapErrbufSize = 256
	pcapIfUp       = 0x2 // PCAP_IF_UP
	pcapIfLoopback = 0x1 // PCAP_IF_LOOPBACK
	dltNull        = 0
	dltEN10MB      = 1
	dltRaw         = 12
	dltRawAlt      = 14
)

var errNoNpcap = fmt.Errorf("%w: Npcap is required; the sniffer is off", ErrNotImplemented)

type wpcap struct {
	openLive, setfilter, nextEx, stats, closeP, datalink, geterr,
	findalldevs, freealldevs, setbuff uintptr
}

var (
	wpcapOnce sync.Once
	wpcapFns  *wpcap
	wpcapErr  error
)

func loadWpcap() (*wpcap, error) {
	wpcapOnce.Do(func() {
		sys, err := windows.GetSystemDirectory()
		if err != nil {
			wpcapErr = fmt.Errorf("%w (%v)", errNoNpcap, err)
			return
		}
		path := filepath.Join(sys, "Npcap", "wpcap.dll")
		h, err := windows.LoadLibraryEx(path, 0, windows.LOAD_WITH_ALTERED_SEARCH_PATH)
		if err != nil {
			wpcapErr = fmt.Errorf("%w (loading %s: %v)", errNoNpcap, path, err)
			return
		}
		w := &wpcap{}
		for _, f := range []struct {
			name     string
			p        *uintptr
			optional bool
		}{
			{"pcap_open_live", &w.openLive, false},
			{"pcap_setfilter", &w.setfilter, false},
			{"pcap_next_ex", &w.nextEx, false},
			{"pcap_stats", &w.stats, false},
			{"pcap_close", &w.closeP, false},
			{"pcap_datalink", &w.datalink, false},
			{"pcap_geterr", &w.geterr, false},
			{"pcap_findalldevs", &w.findalldevs, false},
			{"pcap_freealldevs", &w.freealldevs, false},
			{"pcap_setbuff", &w.setbuff, true},
		} {
			p, err := windows.GetProcAddress(h, f.name)
			if err != nil && !f.optional {
				wpcapErr = fmt.Errorf("%w (%s: %s: %v)", errNoNpcap, path, f.name, err)
				return
			}
			*f.p = p
		}
		wpcapFns = w
	})
	return wpcapFns, wpcapErr
}

// pcapIf is pcap_if_t.
type pcapIf struct {
	next        *pcapIf
	name        *byte
	description *byte
	addresses   uintptr
	flags       uint32
}

// pcapPkthdr is struct pcap_pkthdr on Windows (long is 32-bit).
type pcapPkthdr struct {
	sec, usec int32
	caplen    uint32
	len       uint32
}

type pcapStat struct {
	recv, drop, ifdrop uint32
}

type bpfProgram struct {
	len   uint32
	insns unsafe.Pointer
}

type npcapDevice struct {
	name, friendly string
	flags          uint32
}

func bytePtrToString(p *byte) string {
	if p == nil {
		return ""
	}
	return windows.BytePtrToString(p)
}

// devices lists Npcap's devices with the adapters' friendly names.
func (w *wpcap) devices() ([]npcapDevice, error) {
	var all *pcapIf
	errbuf := make([]byte, pcapErrbufSize)
	r, _, _ := syscall.SyscallN(w.findalldevs, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&errbuf[0])))
	if int32(r) != 0 {
		return nil, fmt.Errorf("pcap_findalldevs: %s", windows.ByteSliceToString(errbuf))
	}
	defer syscall.SyscallN(w.freealldevs, uintptr(unsafe.Pointer(all)))
	friendly := adapterNames()
	var out []npcapDevice
	for d := all; d != nil; d = d.next {
		dev := npcapDevice{name: bytePtrToString(d.name), flags: d.flags}
		if i := strings.IndexByte(dev.name, '{'); i >= 0 {
			dev.friendly = friendly[strings.ToUpper(dev.name[i:])]
		}
		if dev.friendly == "" {
			if dev.flags&pcapIfLoopback != 0 {
				dev.friendly = "Loopback"
			} else {
				dev.friendly = dev.name
			}
		}
		out = append(out, dev)
	}
	return out, nil
}

// adapterNames maps "{GUID}" (upper case) to the adapter's friendly name,
// which is what net.Interfaces calls it.
func adapterNames() map[string]string {
	names := map[string]string{}
	size := uint32(15000)
	for range 3 {
		buf := make([]byte, size)
		aa := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0]))
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, windows.GAA_FLAG_SKIP_ANYCAST|windows.GAA_FLAG_SKIP_MULTICAST|windows.GAA_FLAG_SKIP_DNS_SERVER, 0, aa, &size)
		if err == windows.ERROR_BUFFER_OVERFLOW {
			continue
		}
		if err != nil {
			return names
		}
		for a := aa; a != nil; a = a.Next {
			names[strings.ToUpper(bytePtrToString(a.AdapterName))] = windows.UTF16PtrToString(a.FriendlyName)
		}
		return names
	}
	return names
}

func open(o Options) (Source, error) {
	w, err := loadWpcap()
	if err != nil {
		return nil, err
	}
	devs, err := w.devices()
	if err != nil {
		return nil, err
	}
	var selected []npcapDevice
	if len(o.Interfaces) == 0 {
		for _, d := range devs {
			if d.flags&(pcapIfUp|pcapIfLoopback) != 0 {
				selected = append(selected, d)
			}
		}
	} else {
	want:
		for _, name := range o.Interfaces {
			for _, d := range devs {
				if strings.EqualFold(name, d.friendly) || strings.EqualFold(name, d.name) ||
					strings.HasSuffix(strings.ToUpper(d.name), "_"+strings.ToUpper(name)) {
					selected = append(selected, d)
					continue want
				}
			}
			return nil, fmt.Errorf("capture: %s: no such Npcap device", name)
		}
	}
	var hs []*handle
	var errs []error
	for _, d := range selected {
		h, err := w.openDevice(d, o)
		if err != nil {
			if errors.Is(err, ErrNotPermitted) {
				closeHandles(hs)
				return nil, err
			}
			errs = append(errs, &InterfaceError{Interface: d.friendly, Err: err})
			continue
		}
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("capture: no interface could be opened: %w", errors.Join(errs...))
	}
	return newSource(hs, o), nil
}

func (w *wpcap) openDevice(d npcapDevice, o Options) (h *handle, err error) {
	name, err := windows.BytePtrFromString(d.name)
	if err != nil {
		return nil, err
	}
	errbuf := make([]byte, pcapErrbufSize)
	p, _, _ := syscall.SyscallN(w.openLive, uintptr(unsafe.Pointer(name)), uintptr(o.Snaplen), 0,
		uintptr(pollInterval/time.Millisecond), uintptr(unsafe.Pointer(&errbuf[0])))
	if p == 0 {
		msg := windows.ByteSliceToString(errbuf)
		if l := strings.ToLower(msg); strings.Contains(l, "denied") || strings.Contains(l, "administrator") || strings.Contains(l, "privilege") {
			return nil, fmt.Errorf("%w: pcap_open_live: %s: %w", ErrNotPermitted, msg, os.ErrPermission)
		}
		return nil, fmt.Errorf("pcap_open_live: %s", msg)
	}
	r := &npcapReader{w: w, p: p}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if w.setbuff != 0 {
		syscall.SyscallN(w.setbuff, p, uintptr(o.BufferBytes)) // best effort
	}
	dlt, _, _ := syscall.SyscallN(w.datalink, p)
	var link int
	switch int32(dlt) {
	case dltEN10MB:
		link = LinkEthernet
	case dltNull:
		link = LinkLoop
	case dltRaw, dltRawAlt:
		link = LinkRaw
	default:
		return nil, fmt.Errorf("unsupported data link type %d", int32(dlt))
	}
	filter, err := filterFor(link, o.Snaplen)
	if err != nil {
		return nil, err
	}
	// struct bpf_insn has the layout of bpf.RawInstruction.
	prog := bpfProgram{len: uint32(len(filter)), insns: unsafe.Pointer(&filter[0])}
	if rc, _, _ := syscall.SyscallN(w.setfilter, p, uintptr(unsafe.Pointer(&prog))); int32(rc) != 0 {
		return nil, fmt.Errorf("pcap_setfilter: %s", r.lastError())
	}
	runtime.KeepAlive(filter) // pcap_setfilter copied it
	return newHandle(d.friendly, link, r, o.Snaplen, time.Now())
}

type npcapReader struct {
	w *wpcap
	p uintptr
}

func (r *npcapReader) lastError() string {
	s, _, _ := syscall.SyscallN(r.w.geterr, r.p)
	return bytePtrToString(*(**byte)(unsafe.Pointer(&s))) // a C string owned by pcap
}

func (r *npcapReader) next() ([]byte, time.Time, int, error) {
	var hdr *pcapPkthdr
	var data *byte
	rc, _, _ := syscall.SyscallN(r.w.nextEx, r.p, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data)))
	switch int32(rc) {
	case 1:
		ts := time.Unix(int64(hdr.sec), int64(hdr.usec)*1000)
		return unsafe.Slice(data, hdr.caplen), ts, int(hdr.len), nil
	case 0:
		return nil, time.Time{}, 0, errTimeout
	default:
		return nil, time.Time{}, 0, fmt.Errorf("pcap_next_ex: %s", r.lastError())
	}
}

func (r *npcapReader) drops() (uint64, error) {
	var st pcapStat
	if rc, _, _ := syscall.SyscallN(r.w.stats, r.p, uintptr(unsafe.Pointer(&st))); int32(rc) != 0 {
		return 0, fmt.Errorf("pcap_stats: %s", r.lastError())
	}
	return uint64(st.drop) + uint64(st.ifdrop), nil
}

func (r *npcapReader) close() error {
	if r.p != 0 {
		syscall.SyscallN(r.w.closeP, r.p)
		r.p = 0
	}
	return nil
}
