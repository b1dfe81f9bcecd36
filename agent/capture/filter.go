package capture

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Ports whose traffic passes the filter in both directions.
var (
	// relayPorts: UDP and TCP. DNS, STUN/TURN, TURN over TLS, Google's STUN,
	// RustDesk's rendezvous/relay, TeamViewer.
	relayPorts = []uint32{53, 3478, 5349, 19302, 21116, 5938}
	// udpOnlyPorts: mDNS and QUIC.
	udpOnlyPorts = []uint32{5353, 443}
)

const (
	stunMagicCookie = 0x2112A442
	tlsHandshake    = 0x1603 // record type 22 (handshake), major version 3

	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86DD
	etherTypeVLAN = 0x8100

	protoTCP = 6
	protoUDP = 17
)

// mustFilter returns filterFor or panics: the programs are fixed, their
// assembly is covered by the tests.
func mustFilter(link, snaplen int) []bpf.RawInstruction {
	f, err := filterFor(link, snaplen)
	if err != nil {
		panic(err)
	}
	return f
}

// filterFor assembles the kernel filter for frames of the given link type,
// accepting snaplen bytes of the frames that pass.
func filterFor(link, snaplen int) ([]bpf.RawInstruction, error) {
	ins, err := filterProgram(link, snaplen)
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(ins)
}

// filterProgram is filterFor before assembly (bpf.NewVM takes these).
func filterProgram(link, snaplen int) ([]bpf.Instruction, error) {
	if snaplen <= 0 || snaplen > maxSnaplen {
		return nil, fmt.Errorf("capture: snaplen %d out of range", snaplen)
	}
	p := &prog{labels: map[string]int{}}
	switch link {
	case LinkEthernet:
		p.op(bpf.LoadAbsolute{Off: 12, Size: 2})
		p.jeq(etherTypeIPv4, "e14.v4", "")
		p.jeq(etherTypeIPv6, "e14.v6", "")
		p.jeq(etherTypeVLAN, "", "drop")
		p.op(bpf.LoadAbsolute{Off: 16, Size: 2})
		p.jeq(etherTypeIPv4, "e18.v4", "")
		p.jeq(etherTypeIPv6, "e18.v6", "drop")
		p.ip(14, "e14.")
		p.ip(18, "e18.")
	case LinkRaw:
		p.version(0, "r.")
	case LinkLoop:
		// The 4-byte address family is in host byte order and its IPv6
		// value differs between systems: look at the IP version instead.
		p.version(4, "l.")
	default:
		return nil, fmt.Errorf("capture: no filter for link type %d", link)
	}
	p.label("pass")
	p.op(bpf.RetConstant{Val: uint32(snaplen)})
	p.label("drop")
	p.op(bpf.RetConstant{Val: 0})
	return p.resolve()
}

// prog is a tiny assembler with named forward jump targets. A conditional
// jump's target "" is the next instruction.
type prog struct {
	ins    []pins
	labels map[string]int
}

type pins struct {
	ins    bpf.Instruction
	jt, jf string // JumpIf targets
	isCond bool
}

func (p *prog) op(i bpf.Instruction) { p.ins = append(p.ins, pins{ins: i}) }

func (p *prog) label(name string) {
	if _, dup := p.labels[name]; dup {
		panic("capture: duplicate label " + name)
	}
	p.labels[name] = len(p.ins)
}

func (p *prog) jif(cond bpf.JumpTest, val uint32, jt, jf string) {
	p.ins = append(p.ins, pins{ins: bpf.JumpIf{Cond: cond, Val: val}, jt: jt, jf: jf, isCond: true})
}

func (p *prog) jeq(val uint32, jt, jf string) { p.jif(bpf.JumpEqual, val, jt, jf) }

func (p *prog) resolve() ([]bpf.Instruction, error) {
	out := make([]bpf.Instruction, len(p.ins))
	skip := func(i int, to string) (int, error) {
		if to == "" {
			return 0, nil
		}
		t, ok := p.labels[to]
		if !ok {
			return 0, fmt.Errorf("capture: filter: undefined label %q", to)
		}
		if t <= i {
			return 0, fmt.Errorf("capture: filter: backward jump to %q", to)
		}
		return t - i - 1, nil
	}
	for i, in := range p.ins {
		switch {
		case in.isCond:
			j := in.ins.(bpf.JumpIf)
			t, err := skip(i, in.jt)
			if err != nil {
				return nil, err
			}
			f, err := skip(i, in.jf)
			if err != nil {
				return nil, err
			}
			if t > 255 || f > 255 {
				return nil, fmt.Errorf("capture: filter: conditional jump at %d too far", i)
			}
			j.SkipTrue, j.SkipFalse = uint8(t), uint8(f)
			out[i] = j
		default:
			out[i] = in.ins
		}
	}
	return out, nil
}

// version dispatches on the IP version nibble of the header at base.
func (p *prog) version(base uint32, l string) {
	p.op(bpf.LoadAbsolute{Off: base, Size: 1})
	p.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	p.jeq(0x40, l+"v4", "")
	p.jeq(0x60, l+"v6", "drop")
	p.ip(base, l)
}

// ports passes when the port in A is one of list.
func (p *prog) ports(list []uint32) {
	for _, port := range list {
		p.jeq(port, "pass", "")
	}
}

// ip emits the IPv4 (label l+"v4") and IPv6 (l+"v6") tests for an IP header
// at the constant offset base. Every path ends in pass or drop.
func (p *prog) ip(base uint32, l string) {
	// IPv4.
	p.label(l + "v4")
	p.op(bpf.LoadAbsolute{Off: base + 6, Size: 2}) // flags, fragment offset
	p.jif(bpf.JumpBitsSet, 0x1fff, "drop", "")     // not the first fragment: no ports
	p.op(bpf.LoadAbsolute{Off: base + 9, Size: 1}) // protocol
	p.op(bpf.LoadMemShift{Off: base})              // X = IHL*4
	p.jeq(protoUDP, "", l+"v4tcp")
	// UDP over IPv4: header at base+X.
	p.op(bpf.LoadIndirect{Off: base, Size: 2}) // source port
	p.ports(relayPorts)
	p.ports(udpOnlyPorts)
	p.op(bpf.LoadIndirect{Off: base + 2, Size: 2}) // destination port
	p.ports(relayPorts)
	p.ports(udpOnlyPorts)
	p.op(bpf.LoadIndirect{Off: base + 8 + 4, Size: 4}) // payload[4:8]
	p.jeq(stunMagicCookie, "pass", "drop")
	p.label(l + "v4tcp")
	p.jeq(protoTCP, "", "drop")
	p.op(bpf.LoadIndirect{Off: base, Size: 2})
	p.ports(relayPorts)
	p.op(bpf.LoadIndirect{Off: base + 2, Size: 2})
	p.ports(relayPorts)
	p.op(bpf.LoadIndirect{Off: base + 12, Size: 1}) // data offset << 4
	p.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	p.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2}) // TCP header length
	p.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})                       // + IP header length
	p.op(bpf.TAX{})
	p.op(bpf.LoadIndirect{Off: base, Size: 2}) // payload[0:2]
	p.jeq(tlsHandshake, "pass", "drop")

	// IPv6, fixed 40-byte header, no extension headers.
	p.label(l + "v6")
	p.op(bpf.LoadAbsolute{Off: base + 6, Size: 1}) // next header
	p.jeq(protoUDP, "", l+"v6tcp")
	p.op(bpf.LoadAbsolute{Off: base + 40, Size: 2})
	p.ports(relayPorts)
	p.ports(udpOnlyPorts)
	p.op(bpf.LoadAbsolute{Off: base + 42, Size: 2})
	p.ports(relayPorts)
	p.ports(udpOnlyPorts)
	p.op(bpf.LoadAbsolute{Off: base + 40 + 8 + 4, Size: 4})
	p.jeq(stunMagicCookie, "pass", "drop")
	p.label(l + "v6tcp")
	p.jeq(protoTCP, "", "drop")
	p.op(bpf.LoadAbsolute{Off: base + 40, Size: 2})
	p.ports(relayPorts)
	p.op(bpf.LoadAbsolute{Off: base + 42, Size: 2})
	p.ports(relayPorts)
	p.op(bpf.LoadAbsolute{Off: base + 40 + 12, Size: 1})
	p.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	p.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
	p.op(bpf.TAX{})
	p.op(bpf.LoadIndirect{Off: base + 40, Size: 2})
	p.jeq(tlsHandshake, "pass", "drop")
}
