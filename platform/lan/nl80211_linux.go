package lan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// genl is a NETLINK_GENERIC socket used for one request at a time.
type genl struct {
	fd  int
	seq uint32
}

// maxGenlMessages bounds how many messages one dump may yield (one per scanned BSS).
const maxGenlMessages = 4096

func openGenl() (*genl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("generic netlink socket: %w", err)
	}
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("generic netlink timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("generic netlink bind: %w", err)
	}
	return &genl{fd: fd}, nil
}

func (g *genl) close() { unix.Close(g.fd) }

// request sends one generic netlink message (family, cmd, attributes) and returns the payloads
// (after the 4-byte genlmsghdr) of the replies until NLMSG_DONE, or the single reply.
func (g *genl) request(family uint16, flags uint16, cmd uint8, attrs []byte) ([][]byte, error) {
	g.seq++
	msg := make([]byte, unix.NLMSG_HDRLEN+unix.GENL_HDRLEN, unix.NLMSG_HDRLEN+unix.GENL_HDRLEN+len(attrs))
	msg = append(msg, attrs...)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], family)
	binary.NativeEndian.PutUint16(msg[6:8], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	binary.NativeEndian.PutUint32(msg[8:12], g.seq)
	msg[unix.NLMSG_HDRLEN] = cmd
	msg[unix.NLMSG_HDRLEN+1] = 1 // version
	if err := unix.Sendto(g.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("generic netlink send: %w", err)
	}
	var out [][]byte
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(g.fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("generic netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("generic netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != g.seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("generic netlink: short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(m.Data[0:4])); e != 0 {
					return nil, fmt.Errorf("generic netlink: %w", unix.Errno(-e))
				}
				return out, nil // ACK
			}
			if len(m.Data) >= unix.GENL_HDRLEN && len(out) < maxGenlMessages {
				out = append(out, m.Data[unix.GENL_HDRLEN:])
			}
		}
	}
}

// attr encodes one netlink attribute.
func attr(typ uint16, val []byte) []byte {
	l := 4 + len(val)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(l))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], val)
	return b
}

// nl80211Associated returns the SSID and BSSID of the BSS that interface index is associated
// with, from the cfg80211 scan cache (NL80211_CMD_GET_SCAN dump, NL80211_BSS_STATUS
// associated). Both are "" when the interface is not associated.
func nl80211Associated(index int) (ssid, bssid string, err error) {
	g, err := openGenl()
	if err != nil {
		return "", "", err
	}
	defer g.close()
	replies, err := g.request(unix.GENL_ID_CTRL, 0, unix.CTRL_CMD_GETFAMILY,
		attr(unix.CTRL_ATTR_FAMILY_NAME, []byte("nl80211\x00")))
	if err != nil {
		return "", "", fmt.Errorf("resolve nl80211 family: %w", err)
	}
	var family uint16
	for _, r := range replies {
		attrs(r, func(typ uint16, val []byte) {
			if typ == unix.CTRL_ATTR_FAMILY_ID && len(val) >= 2 {
				family = binary.NativeEndian.Uint16(val)
			}
		})
	}
	if family == 0 {
		return "", "", errors.New("nl80211 family not found")
	}
	var idx [4]byte
	binary.NativeEndian.PutUint32(idx[:], uint32(index))
	replies, err = g.request(family, unix.NLM_F_DUMP, unix.NL80211_CMD_GET_SCAN, attr(unix.NL80211_ATTR_IFINDEX, idx[:]))
	if err != nil {
		return "", "", fmt.Errorf("nl80211 scan dump: %w", err)
	}
	for _, r := range replies {
		if s, b, ok := parseBSS(r); ok {
			return s, b, nil
		}
	}
	return "", "", nil
}
