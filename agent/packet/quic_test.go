package packet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

var rfcDCID = mustHex("8394c8f03e515708")

// rfcCryptoFrame is the CRYPTO frame of RFC 9001 A.2 (and RFC 9369 A.2):
// a ClientHello for example.com offering ALPN "alpn".
var rfcCryptoFrame = mustHex("060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868" +
	"04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578" +
	"616d706c652e636f6dff01000100000a00080006001d00170018001000070005" +
	"04616c706e000500050100000000003300260024001d00209370b2c9caa47fba" +
	"baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400" +
	"0d0010000e0403050306030203080408050806002d00020101001c0002400100" +
	"3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000" +
	"75300901100f088394c8f03e51570806048000ffff")

// rfcHello is the ClientHello inside rfcCryptoFrame.
var rfcHello = rfcCryptoFrame[4:]

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func readHex(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return mustHex(string(b))
}

// Key schedule against RFC 9001 A.1 and RFC 9369 A.1.
func TestQUICInitialKeys(t *testing.T) {
	for _, tt := range []struct {
		version     uint32
		key, iv, hp string
	}{
		{QUICv1, "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"},
		{QUICv2, "8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f", "45b95e15235d6f45a6b19cbcb0294ba9"},
	} {
		key, iv, hp, err := initialKeys(quicVersionParams(tt.version), rfcDCID)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(key) != tt.key || hex.EncodeToString(iv) != tt.iv || hex.EncodeToString(hp) != tt.hp {
			t.Errorf("%#x: key %x iv %x hp %x", tt.version, key, iv, hp)
		}
	}
}

// The published protected client Initials of RFC 9001 A.2 and RFC 9369 A.2.
func TestRFCClientInitial(t *testing.T) {
	for _, tt := range []struct {
		file    string
		version uint32
	}{
		{"rfc9001_a2_client_initial.hex", QUICv1},
		{"rfc9369_a2_client_initial.hex", QUICv2},
	} {
		pkt := readHex(t, tt.file)
		q, err := ParseQUICInitial(pkt)
		if err != nil {
			t.Fatalf("%s: %v (%+v)", tt.file, err, q)
		}
		if q.Version != tt.version || !bytes.Equal(q.DCID, rfcDCID) || len(q.SCID) != 0 ||
			q.SNI != "example.com" || !slices.Equal(q.ALPN, []string{"alpn"}) || len(q.Flags) != 0 {
			t.Errorf("%s: %+v", tt.file, q)
		}
	}
}

// sealInitial is a test-only client Initial encryptor following the same
// RFC 9001 §5 steps: a 4-byte packet number and a 2-byte length, as in
// RFC 9001 A.2.
func sealInitial(t testing.TB, version uint32, dcid, scid []byte, pn uint32, payload []byte) []byte {
	t.Helper()
	v := quicVersionParams(version)
	key, iv, hp, err := initialKeys(v, dcid)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0xc0 | v.initialType<<4 | 3}
	b = binary.BigEndian.AppendUint32(b, version)
	b = append(b, byte(len(dcid)))
	b = append(b, dcid...)
	b = append(b, byte(len(scid)))
	b = append(b, scid...)
	b = append(b, 0) // no token
	b = binary.BigEndian.AppendUint16(b, 0x4000|uint16(4+len(payload)+16))
	pnOff := len(b)
	b = binary.BigEndian.AppendUint32(b, pn)
	blk, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(blk)
	nonce := [12]byte(iv)
	for i := range 4 {
		nonce[8+i] ^= b[pnOff+i]
	}
	b = aead.Seal(b, nonce[:], payload, b)
	hpb, _ := aes.NewCipher(hp)
	var mask [16]byte
	hpb.Encrypt(mask[:], b[pnOff+4:pnOff+20])
	b[0] ^= mask[0] & 0x0f
	for i := range 4 {
		b[pnOff+i] ^= mask[1+i]
	}
	return b
}

// The test encryptor reproduces the RFCs' packets byte for byte, so the
// packets it makes below are ones real clients could send.
func TestSealMatchesRFC(t *testing.T) {
	payload := make([]byte, 1162) // the CRYPTO frame, then PADDING
	copy(payload, rfcCryptoFrame)
	for _, tt := range []struct {
		file    string
		version uint32
	}{
		{"rfc9001_a2_client_initial.hex", QUICv1},
		{"rfc9369_a2_client_initial.hex", QUICv2},
	} {
		if got := sealInitial(t, tt.version, rfcDCID, nil, 2, payload); !bytes.Equal(got, readHex(t, tt.file)) {
			t.Errorf("%s: sealed packet differs from the RFC's", tt.file)
		}
	}
}

func cryptoFrame(off int, data []byte) []byte {
	b := []byte{0x06, 0x80, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], 0x80000000|uint32(off))
	b = append(b, 0x40|byte(len(data)>>8), byte(len(data)))
	return append(b, data...)
}

func padTo(b []byte, n int) []byte {
	for len(b) < n {
		b = append(b, 0)
	}
	return b
}

func TestQUICFrames(t *testing.T) {
	h := rfcHello
	ack := []byte{0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00} // ACK of 0 with one extra range
	tests := []struct {
		name    string
		version uint32
		frames  []byte
		sni     string
		flags   []string
		err     error
	}{
		{"in order", QUICv1, cryptoFrame(0, h), "example.com", nil, nil},
		{"reversed pieces with PING and ACK", QUICv2,
			slices.Concat(cryptoFrame(150, h[150:]), []byte{0x01}, ack, cryptoFrame(60, h[60:150]), cryptoFrame(0, h[:60])),
			"example.com", nil, nil},
		{"overlapping pieces", QUICv1, slices.Concat(cryptoFrame(0, h[:100]), cryptoFrame(50, h[50:])), "example.com", nil, nil},
		{"gap after the SNI", QUICv1, slices.Concat(cryptoFrame(0, h[:80]), cryptoFrame(120, h[120:])),
			"example.com", []string{FlagTruncated}, ErrTruncated},
		{"no offset 0", QUICv1, cryptoFrame(10, h[10:]), "", []string{FlagNoCrypto}, ErrTruncated},
		{"stream frame stops the walk", QUICv1, slices.Concat(cryptoFrame(0, h), []byte{0x08, 0x00, 0x01}),
			"example.com", []string{FlagUnknownFrame}, nil},
		{"crypto length past the end", QUICv1, []byte{0x06, 0x00, 0x44, 0x00}, "", []string{FlagMalformed}, ErrMalformed},
		{"crypto offset over the cap", QUICv1, slices.Concat(cryptoFrame(0, h), []byte{0x06, 0x80, 0x01, 0x00, 0x00, 0x01, 0xaa}),
			"example.com", []string{FlagTooMany}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := sealInitial(t, tt.version, []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{9, 9}, 0, padTo(tt.frames, 1162))
			q, err := ParseQUICInitial(pkt)
			if !errors.Is(err, tt.err) && !(err == nil && tt.err == nil) {
				t.Errorf("err %v, want %v", err, tt.err)
			}
			if q.SNI != tt.sni || !slices.Equal(q.Flags, tt.flags) || q.Version != tt.version || !bytes.Equal(q.SCID, []byte{9, 9}) {
				t.Errorf("got %+v, want SNI %q flags %v", q, tt.sni, tt.flags)
			}
		})
	}
}

func TestQUICBadPackets(t *testing.T) {
	good := readHex(t, "rfc9001_a2_client_initial.hex")
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name string
		pkt  []byte
		flag string
		err  error
	}{
		{"ciphertext bit flipped", flip(600), FlagDecrypt, ErrMalformed},
		{"DCID bit flipped", flip(7), FlagDecrypt, ErrMalformed},
		{"cut short", good[:900], FlagTruncated, ErrTruncated},
		{"header only", good[:20], FlagTruncated, ErrTruncated},
		{"dcid over 20 bytes", slices.Concat(good[:5], []byte{21}, make([]byte, 40)), FlagMalformed, ErrMalformed},
		{"short header", slices.Concat([]byte{0x40}, good[1:]), "", ErrUnsupported},
		{"draft-29 version", slices.Concat(good[:1], []byte{0xff, 0, 0, 29}, good[5:]), "", ErrUnsupported},
		{"handshake packet type", slices.Concat([]byte{0xe0}, good[1:]), "", ErrUnsupported},
		{"length below the sample", slices.Concat(good[:16], []byte{0x10}, good[18:]), FlagBadLength, ErrMalformed},
	}
	for _, tt := range tests {
		q, err := ParseQUICInitial(tt.pkt)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.err)
		}
		if tt.flag != "" && !slices.Contains(q.Flags, tt.flag) {
			t.Errorf("%s: flags %v, want %s", tt.name, q.Flags, tt.flag)
		}
	}
}
