package codesign

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/pe"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Fixtures are built once per test binary into fixtureDir and shared by
// tests, fuzz targets and benchmarks.
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "codesign-test-")
	if err != nil {
		panic(err)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type lazyFile struct {
	once sync.Once
	path string
	skip string
	err  error
}

var fixtures sync.Map // name -> *lazyFile

// fixture returns the path of a built fixture, building it on first use.
// Missing tools skip the test, except under CI where they fail it.
func fixture(tb testing.TB, name string) string {
	tb.Helper()
	v, _ := fixtures.LoadOrStore(name, new(lazyFile))
	lf := v.(*lazyFile)
	lf.once.Do(func() { lf.path, lf.skip, lf.err = buildFixture(name) })
	if lf.skip != "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("fixture %s: %s", name, lf.skip)
		}
		tb.Skipf("fixture %s: %s", name, lf.skip)
	}
	if lf.err != nil {
		tb.Fatalf("fixture %s: %v", name, lf.err)
	}
	return lf.path
}

func fixtureBytes(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(fixture(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Serial numbers of the test certificates, asserted by the tests.
var (
	serialSelfSigned = big.NewInt(0x0123456789abcdef)
	serialCA         = big.NewInt(0xca)
	serialLeaf       = big.NewInt(0x7e57)
)

func buildFixture(name string) (path, skip string, err error) {
	switch name {
	case "pe-unsigned":
		return goBuild("windows", "amd64", "a.exe")
	case "macho-arm64":
		return goBuild("darwin", "arm64", "a.out")
	case "macho-amd64":
		return goBuild("darwin", "amd64", "a.out")
	case "pe-signed", "pe-chain":
		tool, err := exec.LookPath("osslsigncode")
		if err != nil {
			return "", "osslsigncode not on PATH (install it: apt-get install osslsigncode)", nil
		}
		unsigned, skip, err := goBuild("windows", "amd64", "a.exe")
		if skip != "" || err != nil {
			return "", skip, err
		}
		dir := filepath.Join(fixtureDir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", err
		}
		var certsPEM []byte
		var key *rsa.PrivateKey
		if name == "pe-signed" {
			der, k := newCert(serialSelfSigned, pkix.Name{CommonName: "Farmwatch Test Signer", Organization: []string{"Farmwatch QA"}}, false, nil, nil)
			certsPEM, key = pemCert(der), k
		} else {
			caDER, caKey := newCert(serialCA, pkix.Name{CommonName: "Farmwatch Test CA", Organization: []string{"Farmwatch CA Org"}}, true, nil, nil)
			ca, _ := x509.ParseCertificate(caDER)
			leafDER, leafKey := newCert(serialLeaf, pkix.Name{CommonName: "Farmwatch Test Signer", Organization: []string{"Farmwatch QA"}}, false, ca, caKey)
			// osslsigncode signs with the first certificate of the file and
			// embeds the rest as the chain; the DER SET in the signature
			// then lists the CA first (see embeddedCNs in the test).
			certsPEM, key = append(pemCert(leafDER), pemCert(caDER)...), leafKey
		}
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		if err := os.WriteFile(certFile, certsPEM, 0o600); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
			return "", "", err
		}
		out := filepath.Join(dir, "signed.exe")
		cmd := exec.Command(tool, "sign", "-certs", certFile, "-key", keyFile, "-n", "test", "-in", unsigned, "-out", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("%v: %v\n%s", cmd.Args, err, b)
		}
		return out, "", nil
	}
	panic("unknown fixture " + name)
}

// goBuild cross-compiles a tiny program with the internal linker.
func goBuild(goos, goarch, out string) (path, skip string, err error) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		return "", "go tool not on PATH", nil
	}
	dir := filepath.Join(fixtureDir, goos+"-"+goarch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"farmwatch codesign fixture\") }\n"), 0o644); err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, out)
	cmd := exec.Command(gotool, "build", "-trimpath", "-ldflags=-s -w", "-o", path, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local", "GO111MODULE=on")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("%v: %v\n%s", cmd.Args, err, b)
	}
	return path, "", nil
}

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

// newCert makes a code-signing certificate; parent nil means self-signed.
// All certificates share one RSA key: only names and serials matter here.
func newCert(serial *big.Int, subject pkix.Name, isCA bool, parent *x509.Certificate, parentKey *rsa.PrivateKey) ([]byte, *rsa.PrivateKey) {
	rsaKeyOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		SubjectKeyId:          serial.Bytes(),
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	}
	if parent == nil {
		parent, parentKey = tmpl, rsaKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &rsaKey.PublicKey, parentKey)
	if err != nil {
		panic(err)
	}
	return der, rsaKey
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// --- synthetic PKCS#7 ---

type testAlg struct {
	Algorithm asn1.ObjectIdentifier
}

type testSignerInfo struct {
	Version   int
	SID       asn1.RawValue
	DigestAlg testAlg
	SigAlg    testAlg
	Signature []byte
}

type testSignedData struct {
	Version     int
	DigestAlgs  []testAlg `asn1:"set"`
	ContentInfo struct{ Type asn1.ObjectIdentifier }
	Certs       asn1.RawValue
	SignerInfos []testSignerInfo `asn1:"set"`
}

var oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}

// makePKCS7 builds a (never verifiable) SignedData carrying certs whose
// signer is identified by issuer and serial of signerDER, or by its
// subject key id when byKeyID is set.
func makePKCS7(tb testing.TB, signerDER []byte, byKeyID bool, certs ...[]byte) []byte {
	tb.Helper()
	var sid asn1.RawValue
	if byKeyID {
		c, err := x509.ParseCertificate(signerDER)
		if err != nil {
			tb.Fatal(err)
		}
		sid = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: c.SubjectKeyId}
	} else {
		tbs, ok := parseTBS(signerDER)
		if !ok {
			tb.Fatal("signer certificate unparsable")
		}
		b, err := asn1.Marshal(struct {
			Issuer asn1.RawValue
			Serial asn1.RawValue
		}{tbs.Issuer, tbs.Serial})
		if err != nil {
			tb.Fatal(err)
		}
		sid = asn1.RawValue{FullBytes: b}
	}
	sd := testSignedData{
		Version:     1,
		DigestAlgs:  []testAlg{{oidSHA256}},
		Certs:       asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(certs, nil)},
		SignerInfos: []testSignerInfo{{Version: 1, SID: sid, DigestAlg: testAlg{oidSHA256}, SigAlg: testAlg{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}}, Signature: []byte("not a signature")}},
	}
	sd.ContentInfo.Type = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		tb.Fatal(err)
	}
	ci, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{oidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER}})
	if err != nil {
		tb.Fatal(err)
	}
	return ci
}

// toBER rewrites every constructed element of DER input with indefinite
// length, the way Apple's CMS encoder writes signatures.
func toBER(tb testing.TB, der []byte) []byte {
	tb.Helper()
	var out []byte
	for len(der) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(der, &v)
		if err != nil {
			tb.Fatal(err)
		}
		hdr := v.FullBytes[:len(v.FullBytes)-len(v.Bytes)]
		if v.IsCompound {
			tagLen := 1
			if hdr[0]&0x1f == 0x1f {
				for hdr[tagLen]&0x80 != 0 {
					tagLen++
				}
				tagLen++
			}
			out = append(out, hdr[:tagLen]...)
			out = append(out, 0x80)
			out = append(out, toBER(tb, v.Bytes)...)
			out = append(out, 0, 0)
		} else {
			out = append(out, v.FullBytes...)
		}
		der = rest
	}
	return out
}

// --- synthetic PE ---

// winCertificate wraps a PKCS#7 blob in a WIN_CERTIFICATE entry, padded to
// 8 bytes.
func winCertificate(typ uint16, blob []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(8+len(blob)))
	b = binary.LittleEndian.AppendUint16(b, 0x0200)
	b = binary.LittleEndian.AppendUint16(b, typ)
	b = append(b, blob...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// makePE builds a header-only PE32+ image followed by pad zero bytes and the
// attribute certificate table (none when table is nil).
func makePE(table []byte, pad int) []byte {
	var b bytes.Buffer
	dos := make([]byte, 64)
	dos[0], dos[1] = 'M', 'Z'
	binary.LittleEndian.PutUint32(dos[0x3c:], 64)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	binary.Write(&b, binary.LittleEndian, pe.FileHeader{Machine: pe.IMAGE_FILE_MACHINE_AMD64, SizeOfOptionalHeader: 240, Characteristics: 0x22})
	oh := pe.OptionalHeader64{Magic: 0x20b, NumberOfRvaAndSizes: 16, SizeOfHeaders: 512}
	off := (64 + 4 + 20 + 240 + pad + 7) &^ 7
	if table != nil {
		oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY] = pe.DataDirectory{VirtualAddress: uint32(off), Size: uint32(len(table))}
	}
	binary.Write(&b, binary.LittleEndian, oh)
	b.Write(make([]byte, off-b.Len()))
	b.Write(table)
	return b.Bytes()
}

// peSecurityDir returns the offset of DataDirectory[4] in a PE32+ file.
func peSecurityDir(tb testing.TB, img []byte) int {
	tb.Helper()
	lfanew := int(binary.LittleEndian.Uint32(img[0x3c:]))
	if binary.LittleEndian.Uint16(img[lfanew+24:]) != 0x20b {
		tb.Fatal("not PE32+")
	}
	return lfanew + 24 + 112 + 4*8
}

// compactPE keeps the headers of a signed PE and its certificate table,
// dropping the image: a small fuzz seed that still reads the same.
func compactPE(tb testing.TB, img []byte) []byte {
	tb.Helper()
	dd := peSecurityDir(tb, img)
	off := binary.LittleEndian.Uint32(img[dd:])
	n := binary.LittleEndian.Uint32(img[dd+4:])
	out := append([]byte(nil), img[:1024]...)
	binary.LittleEndian.PutUint32(out[dd:], uint32(len(out)))
	return append(out, img[off:off+n]...)
}

// --- synthetic Mach-O ---

func codeDirectory(version, flags uint32, ident, team string) []byte {
	const fixed = 88 // through execSegFlags of version 0x20400
	b := make([]byte, fixed)
	binary.BigEndian.PutUint32(b[0:], csMagicCodeDirectory)
	binary.BigEndian.PutUint32(b[8:], version)
	binary.BigEndian.PutUint32(b[12:], flags)
	binary.BigEndian.PutUint32(b[20:], fixed)
	b = append(b, ident...)
	b = append(b, 0)
	if team != "" {
		binary.BigEndian.PutUint32(b[48:], uint32(len(b)))
		b = append(b, team...)
		b = append(b, 0)
	}
	b = append(b, make([]byte, 32)...) // one code hash
	binary.BigEndian.PutUint32(b[16:], uint32(len(b)-32))
	binary.BigEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

type slot struct {
	typ  uint32
	blob []byte // complete blob, header included
}

func wrapBlob(magic uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, uint32(8+len(payload)))
	return append(b, payload...)
}

func superBlob(slots ...slot) []byte {
	off := 12 + 8*len(slots)
	var idx, body []byte
	for _, s := range slots {
		idx = binary.BigEndian.AppendUint32(idx, s.typ)
		idx = binary.BigEndian.AppendUint32(idx, uint32(off+len(body)))
		body = append(body, s.blob...)
	}
	b := binary.BigEndian.AppendUint32(nil, csMagicEmbeddedSignature)
	b = binary.BigEndian.AppendUint32(b, uint32(off+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(slots)))
	return append(append(b, idx...), body...)
}

// makeMachO builds a 64-bit little-endian arm64 Mach-O whose only load
// command is LC_CODE_SIGNATURE pointing at sig (none when sig is nil).
func makeMachO(sig []byte) []byte {
	var ncmd, cmdsz uint32
	if sig != nil {
		ncmd, cmdsz = 1, 16
	}
	b := binary.LittleEndian.AppendUint32(nil, 0xfeedfacf)
	b = binary.LittleEndian.AppendUint32(b, uint32(0x0100000c)) // CPU_TYPE_ARM64
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 2) // MH_EXECUTE
	b = binary.LittleEndian.AppendUint32(b, ncmd)
	b = binary.LittleEndian.AppendUint32(b, cmdsz)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	if sig != nil {
		b = binary.LittleEndian.AppendUint32(b, lcCodeSignature)
		b = binary.LittleEndian.AppendUint32(b, 16)
		b = binary.LittleEndian.AppendUint32(b, 64)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(sig)))
		b = append(b, make([]byte, 64-len(b))...)
		b = append(b, sig...)
	}
	return b
}

// makeFat assembles a universal binary from slices, 4 KiB aligned.
func makeFat(wide bool, slices ...[]byte) []byte {
	magic := uint32(fatMagic)
	if wide {
		magic = fatMagic64
	}
	hdr := binary.BigEndian.AppendUint32(nil, magic)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(slices)))
	off := 4096
	var body []byte
	for i, s := range slices {
		cpu := uint32(0x01000007) // x86_64
		if i%2 == 1 {
			cpu = 0x0100000c
		}
		hdr = binary.BigEndian.AppendUint32(hdr, cpu)
		hdr = binary.BigEndian.AppendUint32(hdr, 0)
		if wide {
			hdr = binary.BigEndian.AppendUint64(hdr, uint64(off+len(body)))
			hdr = binary.BigEndian.AppendUint64(hdr, uint64(len(s)))
			hdr = binary.BigEndian.AppendUint32(hdr, 12)
			hdr = binary.BigEndian.AppendUint32(hdr, 0)
		} else {
			hdr = binary.BigEndian.AppendUint32(hdr, uint32(off+len(body)))
			hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(s)))
			hdr = binary.BigEndian.AppendUint32(hdr, 12)
		}
		body = append(body, s...)
		for len(body)%4096 != 0 {
			body = append(body, 0)
		}
	}
	out := append(hdr, make([]byte, off-len(hdr))...)
	return append(out, body...)
}

// compactMachO keeps the header, load commands and code signature of a
// thin 64-bit little-endian Mach-O, dropping the image.
func compactMachO(tb testing.TB, img []byte) []byte {
	tb.Helper()
	if binary.LittleEndian.Uint32(img) != 0xfeedfacf {
		tb.Fatal("not a 64-bit little-endian Mach-O")
	}
	ncmd, cmdsz := binary.LittleEndian.Uint32(img[16:]), binary.LittleEndian.Uint32(img[20:])
	out := append([]byte(nil), img[:32+cmdsz]...)
	for len(out)%16 != 0 {
		out = append(out, 0)
	}
	p := 32
	for range ncmd {
		cmd, size := binary.LittleEndian.Uint32(out[p:]), binary.LittleEndian.Uint32(out[p+4:])
		if cmd == lcCodeSignature {
			off, n := binary.LittleEndian.Uint32(out[p+8:]), binary.LittleEndian.Uint32(out[p+12:])
			binary.LittleEndian.PutUint32(out[p+8:], uint32(len(out)))
			return append(out, img[off:off+n]...)
		}
		p += int(size)
	}
	tb.Fatal("no LC_CODE_SIGNATURE")
	return nil
}

// embeddedCNs lists the certificates of a PE's signature in their order.
func embeddedCNs(tb testing.TB, img []byte) []string {
	tb.Helper()
	dd := peSecurityDir(tb, img)
	off, n := binary.LittleEndian.Uint32(img[dd:]), binary.LittleEndian.Uint32(img[dd+4:])
	der, err := berToDER(img[off+8 : off+n])
	if err != nil {
		tb.Fatal(err)
	}
	var ci contentInfo
	var sd signedData
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		tb.Fatal(err)
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		tb.Fatal(err)
	}
	var cns []string
	for rest := sd.Certificates.Bytes; len(rest) > 0; {
		var c asn1.RawValue
		if rest, err = asn1.Unmarshal(rest, &c); err != nil {
			tb.Fatal(err)
		}
		cert, err := x509.ParseCertificate(c.FullBytes)
		if err != nil {
			tb.Fatal(err)
		}
		cns = append(cns, cert.Subject.CommonName)
	}
	return cns
}

// countingReaderAt records how many bytes were read.
type countingReaderAt struct {
	r     *bytes.Reader
	bytes int64
	calls int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls++
	c.bytes += int64(len(p))
	return c.r.ReadAt(p, off)
}
