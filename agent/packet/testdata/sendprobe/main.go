// Command sendprobe puts the STUN and QUIC packets of the test pcaps on the
// loopback wire. It lives under testdata so the go tool skips it in ./...;
// record.sh runs it with `go run`. Not part of the agent.
//
//	sendprobe stun ADDR        a STUN Binding request with SOFTWARE, answered
//	                           by a local responder with XOR-MAPPED-ADDRESS
//	sendprobe quic ADDR SNI [x25519]
//	                           client Initials from golang.org/x/net/quic
//	                           (crypto/tls); x25519 keeps the ClientHello in
//	                           one packet, the default PQ key share splits it
//	sendprobe tls ADDR SNI     a crypto/tls handshake to a local listener,
//	                           writes cut at 1000 bytes (what a 1000-byte MSS
//	                           does on a real link; loopback's segmentation
//	                           offload would keep one segment), so the default
//	                           ML-KEM ClientHello spans two segments
package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"golang.org/x/net/quic"
)

func main() {
	if len(os.Args) < 3 {
		log.Fatal("usage: sendprobe stun|quic ADDR [SNI [x25519]]")
	}
	switch os.Args[1] {
	case "stun":
		stun(os.Args[2])
	case "quic":
		if len(os.Args) < 4 {
			log.Fatal("quic needs SNI")
		}
		quicDial(os.Args[2], os.Args[3], len(os.Args) > 4 && os.Args[4] == "x25519")
	case "tls":
		if len(os.Args) < 4 {
			log.Fatal("tls needs SNI")
		}
		tlsDial(os.Args[2], os.Args[3])
	}
}

// tlsDial runs a handshake to a listener on addr that answers with an
// alert (it has no certificate): only the ClientHello matters.
func tlsDial(addr, sni string) {
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tls.Server(c, &tls.Config{}).Handshake()
	}()
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	tc := tls.Client(splitConn{c}, &tls.Config{ServerName: sni, NextProtos: []string{"h2", "http/1.1"}})
	err = tc.Handshake()
	tc.Close()
	log.Printf("tls: %v", err)
}

func attr(b []byte, typ uint16, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func stunMsg(typ uint16, txid []byte, attrs []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
	b = binary.BigEndian.AppendUint32(b, 0x2112A442)
	b = append(b, txid...)
	return append(b, attrs...)
}

func stun(addr string) {
	srv, err := net.ListenPacket("udp4", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 1500)
		n, from, err := srv.ReadFrom(buf)
		if err != nil || n < 20 {
			return
		}
		ua := from.(*net.UDPAddr)
		x := make([]byte, 8)
		x[1] = 1
		binary.BigEndian.PutUint16(x[2:], uint16(ua.Port)^0x2112)
		ip := ua.IP.To4()
		for i := range 4 {
			x[4+i] = ip[i] ^ []byte{0x21, 0x12, 0xA4, 0x42}[i]
		}
		a := attr(nil, 0x0020, x)
		a = attr(a, 0x8022, []byte("farmwatch-test-responder"))
		srv.WriteTo(stunMsg(0x0101, buf[8:20], a), from)
	}()
	c, err := net.Dial("udp4", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	txid := []byte("fw-txid-0001")
	a := attr(nil, 0x8022, []byte("farmwatch-test 1.0"))
	if _, err := c.Write(stunMsg(0x0001, txid, a)); err != nil {
		log.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	fmt.Printf("stun: got %d bytes (%v)\n", n, err)
}

func quicDial(addr, sni string, x25519 bool) {
	ep, err := quic.Listen("udp", "127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	tc := &tls.Config{ServerName: sni, NextProtos: []string{"h3"}, MinVersion: tls.VersionTLS13}
	if x25519 {
		tc.CurvePreferences = []tls.CurveID{tls.X25519}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	_, err = ep.Dial(ctx, "udp", addr, &quic.Config{TLSConfig: tc})
	fmt.Printf("quic %s: %v (expected: nobody answers)\n", sni, err)
	ep.Close(context.Background())
}

// splitConn writes at most 1000 bytes per TCP segment (TCP_NODELAY is Go's
// default, so each Write is a segment).
type splitConn struct{ net.Conn }

func (c splitConn) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), 1000)
		m, err := c.Conn.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
		time.Sleep(10 * time.Millisecond)
	}
	return n, nil
}
