package packet

import (
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tsharkFields are the columns compared; "quic.dcid" keys the QUIC SNI,
// which tshark reports on the packet completing a reassembled ClientHello.
var tsharkFields = []string{"frame.number", "ip.proto", "dns.qry.name", "dns.a",
	"tls.handshake.extensions_server_name", "quic.dcid", "stun.att.software", "stun.att.ipv4", "stun.att.port", "stun.id"}

// TestTsharkAgrees decodes the recorded pcaps with tshark and with Decode
// and compares what both found. Skipped without tshark, unless CI is set.
func TestTsharkAgrees(t *testing.T) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark is required in CI (Debian package tshark)")
		}
		t.Skip("tshark not installed")
	}
	for _, name := range pcaps {
		t.Run(name, func(t *testing.T) {
			args := []string{"-n", "-r", filepath.Join("testdata", name), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
			for _, f := range tsharkFields {
				args = append(args, "-e", f)
			}
			out, err := exec.Command(bin, args...).Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			frames := readPcap(t, name)
			if len(lines) != len(frames) {
				t.Fatalf("tshark saw %d frames, pcapgo %d", len(lines), len(frames))
			}
			d := NewDecoder()
			theirSNI, ourSNI := map[string]string{}, map[string]string{}
			for i, fr := range frames {
				var p Packet
				if err := d.Decode(fr.link, fr.data, &p); err != nil {
					t.Fatalf("frame %d: %v", i+1, err)
				}
				their := strings.Split(lines[i], "\t")
				if their[1] != strconv.Itoa(int(p.Proto)) {
					t.Errorf("frame %d: ip.proto tshark %s, ours %d", i+1, their[1], p.Proto)
				}
				if p.Proto != ProtoTCP && p.Proto != ProtoUDP {
					continue // ICMP: tshark also dissects the quoted datagram
				}
				ours := ourRow(&p)
				for j := 2; j < len(tsharkFields); j++ {
					if tsharkFields[j] == "tls.handshake.extensions_server_name" && p.QUIC != nil {
						if their[j] != "" {
							theirSNI[their[5]] = their[j]
						}
						if ours[j] != "" {
							ourSNI[ours[5]] = ours[j]
						}
						continue
					}
					if their[j] != ours[j] {
						t.Errorf("frame %d %s: tshark %q, ours %q", i+1, tsharkFields[j], their[j], ours[j])
					}
				}
			}
			for dcid, sni := range theirSNI {
				if ourSNI[dcid] != sni {
					t.Errorf("QUIC DCID %s: tshark SNI %q, ours %q", dcid, sni, ourSNI[dcid])
				}
			}
			if len(ourSNI) != len(theirSNI) {
				t.Errorf("QUIC SNIs: tshark %v, ours %v", theirSNI, ourSNI)
			}
		})
	}
}

// ourRow renders p in tsharkFields' columns.
func ourRow(p *Packet) []string {
	row := make([]string, len(tsharkFields))
	if m := p.DNS; m != nil {
		if len(m.Questions) > 0 {
			row[2] = m.Questions[0].Name
		}
		for _, a := range m.Answers {
			if a.Type == TypeA {
				row[3] = a.Addr.String()
				break
			}
		}
	}
	if p.TLS != nil {
		row[4] = p.TLS.SNI
	}
	if q := p.QUIC; q != nil {
		row[4], row[5] = q.SNI, hex.EncodeToString(q.DCID)
	}
	if s := p.STUN; s != nil {
		row[6] = s.Software
		if s.XORMappedAddress.IsValid() {
			row[7], row[8] = s.XORMappedAddress.Addr().String(), strconv.Itoa(int(s.XORMappedAddress.Port()))
		}
		row[9] = hex.EncodeToString(s.TransactionID[:])
	}
	return row
}
