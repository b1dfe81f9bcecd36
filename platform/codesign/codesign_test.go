package codesign

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadPESignedByOsslsigncode(t *testing.T) {
	tests := []struct {
		fixture  string
		want     Signature
		embedded []string // certificates in the signature, in order
	}{
		{
			fixture:  "pe-signed",
			embedded: []string{"Farmwatch Test Signer"},
			want: Signature{
				Format:       "authenticode",
				Subject:      "Farmwatch Test Signer",
				Organization: "Farmwatch QA",
				Issuer:       "Farmwatch Test Signer", // self-signed
				Serial:       "0123456789abcdef",
			},
		},
		{
			// CA listed before the leaf: the leaf signed, the leaf is reported.
			// The SET lists the CA first: picking by position would be wrong.
			fixture:  "pe-chain",
			embedded: []string{"Farmwatch Test CA", "Farmwatch Test Signer"},
			want: Signature{
				Format:       "authenticode",
				Subject:      "Farmwatch Test Signer",
				Organization: "Farmwatch QA",
				Issuer:       "Farmwatch Test CA",
				Serial:       "7e57",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			path := fixture(t, tt.fixture)
			got, err := Read(path)
			if err != nil {
				t.Fatalf("Read() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Read() = %+v\nwant     %+v", got, tt.want)
			}
			img, _ := os.ReadFile(path)
			if cns := embeddedCNs(t, img); !slices.Equal(cns, tt.embedded) {
				t.Errorf("signature embeds %q, want %q", cns, tt.embedded)
			}
			got, err = ReadPE(bytes.NewReader(img), int64(len(img)))
			if err != nil || got != tt.want {
				t.Errorf("ReadPE() = %+v, %v", got, err)
			}
			// The compacted fuzz seed reads the same.
			small := compactPE(t, img)
			got, err = ReadPE(bytes.NewReader(small), int64(len(small)))
			if err != nil || got != tt.want {
				t.Errorf("ReadPE(compacted) = %+v, %v", got, err)
			}
		})
	}
}

func TestReadPEUnsignedGoBinary(t *testing.T) {
	path := fixture(t, "pe-unsigned")
	if _, err := Read(path); !errors.Is(err, ErrUnsigned) {
		t.Errorf("Read(unsigned exe) error = %v, want ErrUnsigned", err)
	}
	img, _ := os.ReadFile(path)
	if _, err := ReadPE(bytes.NewReader(img), int64(len(img))); !errors.Is(err, ErrUnsigned) {
		t.Errorf("ReadPE(unsigned exe) error = %v, want ErrUnsigned", err)
	}
}

func TestReadMachOGoBinaries(t *testing.T) {
	// The Go linker signs darwin/arm64 ad hoc with identifier "a.out"
	// (cmd/link passes a fixed name to codesign.Sign), whatever -o says.
	arm64 := fixture(t, "macho-arm64")
	want := Signature{Format: "apple", Identifier: "a.out", AdHoc: true}
	got, err := Read(arm64)
	if err != nil || got != want {
		t.Errorf("Read(darwin/arm64) = %+v, %v; want %+v", got, err, want)
	}
	renamed := filepath.Join(t.TempDir(), "AnyDesk")
	img, _ := os.ReadFile(arm64)
	if err := os.WriteFile(renamed, img, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(renamed); err != nil || got != want {
		t.Errorf("Read(renamed) = %+v, %v; want %+v", got, err, want)
	}
	small := compactMachO(t, img)
	if got, err := ReadMachO(bytes.NewReader(small), int64(len(small))); err != nil || got != want {
		t.Errorf("ReadMachO(compacted) = %+v, %v; want %+v", got, err, want)
	}

	if _, err := Read(fixture(t, "macho-amd64")); !errors.Is(err, ErrUnsigned) {
		t.Errorf("Read(darwin/amd64) error = %v, want ErrUnsigned", err)
	}
}

func TestReadMachOFat(t *testing.T) {
	signed := fixtureBytes(t, "macho-arm64")
	unsigned := fixtureBytes(t, "macho-amd64")
	want := Signature{Format: "apple", Identifier: "a.out", AdHoc: true}
	tests := []struct {
		name    string
		img     []byte
		want    Signature
		wantErr error
	}{
		{"amd64 unsigned then arm64 signed", makeFat(false, unsigned, signed), want, nil},
		{"fat_arch_64", makeFat(true, unsigned, signed), want, nil},
		{"signed first", makeFat(false, signed, unsigned), want, nil},
		{"no slice signed", makeFat(false, unsigned, unsigned), Signature{}, ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadMachO(bytes.NewReader(tt.img), int64(len(tt.img)))
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ReadMachO() = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// developerID returns an Apple-style leaf (with the team id in OU) and its
// intermediate.
func developerID(t *testing.T) (leaf, intermediate []byte) {
	t.Helper()
	ca, caKey := newCert(big.NewInt(0x1d), pkix.Name{CommonName: "Developer ID Certification Authority", Organization: []string{"Apple Inc."}}, true, nil, nil)
	caCert, _ := x509.ParseCertificate(ca)
	leaf, _ = newCert(big.NewInt(0x5eed), pkix.Name{
		CommonName:         "Developer ID Application: Farmwatch QA (FWTEAM1234)",
		Organization:       []string{"Farmwatch QA"},
		OrganizationalUnit: []string{"FWTEAM1234"},
	}, false, caCert, caKey)
	return leaf, ca
}

func TestReadMachOSynthetic(t *testing.T) {
	leaf, inter := developerID(t)
	cms := toBER(t, makePKCS7(t, leaf, false, inter, leaf))
	devID := Signature{
		Format:       "apple",
		Subject:      "Developer ID Application: Farmwatch QA (FWTEAM1234)",
		Organization: "Farmwatch QA",
		Issuer:       "Developer ID Certification Authority",
		Serial:       "5eed",
		TeamID:       "FWTEAM1234",
		Identifier:   "com.farmwatch.remote",
	}
	requirements := wrapBlob(0xfade0c01, []byte{0, 0, 0, 0})
	tests := []struct {
		name    string
		sig     []byte
		want    Signature
		wantErr bool
	}{
		{
			name: "developer id, team in code directory, BER CMS",
			sig: superBlob(
				slot{csSlotCodeDirectory, codeDirectory(0x20400, 0x10000, "com.farmwatch.remote", "FWTEAM1234")},
				slot{2, requirements},
				slot{csSlotSignature, wrapBlob(csMagicBlobWrapper, cms)},
			),
			want: devID,
		},
		{
			name: "team id from the leaf OU when the code directory predates it",
			sig: superBlob(
				slot{csSlotCodeDirectory, codeDirectory(0x20100, 0, "com.farmwatch.remote", "")},
				slot{csSlotSignature, wrapBlob(csMagicBlobWrapper, cms)},
			),
			want: devID,
		},
		{
			name: "code directory team wins over OU",
			sig: superBlob(
				slot{csSlotCodeDirectory, codeDirectory(0x20400, 0, "com.farmwatch.remote", "OTHERTEAM1")},
				slot{csSlotSignature, wrapBlob(csMagicBlobWrapper, makePKCS7(t, leaf, true, leaf))},
			),
			want: func() Signature { s := devID; s.TeamID = "OTHERTEAM1"; return s }(),
		},
		{
			name: "ad hoc with empty CMS wrapper",
			sig: superBlob(
				slot{csSlotCodeDirectory, codeDirectory(0x20400, csAdHoc, "hello-1234", "")},
				slot{csSlotSignature, wrapBlob(csMagicBlobWrapper, nil)},
			),
			want: Signature{Format: "apple", Identifier: "hello-1234", AdHoc: true},
		},
		{
			name: "garbage CMS keeps the code directory fields",
			sig: superBlob(
				slot{csSlotCodeDirectory, codeDirectory(0x20400, 0, "com.x", "TEAM")},
				slot{csSlotSignature, wrapBlob(csMagicBlobWrapper, []byte{0x30, 0x03, 1, 2, 3})},
			),
			want:    Signature{Format: "apple", Identifier: "com.x", TeamID: "TEAM"},
			wantErr: true,
		},
		{
			name:    "no code directory",
			sig:     superBlob(slot{2, requirements}),
			wantErr: true,
		},
		{
			name:    "unterminated identifier",
			sig:     superBlob(slot{csSlotCodeDirectory, codeDirectory(0x20400, 0, strings.Repeat("x", 40), "")[:100]}),
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := makeMachO(tt.sig)
			got, err := ReadMachO(bytes.NewReader(img), int64(len(img)))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ReadMachO() = %+v, %v\nwant        %+v, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestReadPESynthetic(t *testing.T) {
	leaf, inter := developerID(t)
	want := Signature{
		Format:       "authenticode",
		Subject:      "Developer ID Application: Farmwatch QA (FWTEAM1234)",
		Organization: "Farmwatch QA",
		Issuer:       "Developer ID Certification Authority",
		Serial:       "5eed",
	}
	// A certificate crypto/x509 rejects (negative serial, no key): the
	// lenient reader still names it.
	negative := lenientCert(t, []byte{0xff, 0x01}, "Old Vendor Ltd", "Old Vendor", "Old CA")
	tests := []struct {
		name    string
		table   []byte
		want    Signature
		wantErr error // nil: success; errAny: some error
	}{
		{"issuer and serial", winCertificate(2, makePKCS7(t, leaf, false, inter, leaf)), want, nil},
		{"subject key id", winCertificate(2, makePKCS7(t, leaf, true, inter, leaf)), want, nil},
		{"BER encoded", winCertificate(2, toBER(t, makePKCS7(t, leaf, false, leaf))), want, nil},
		{"x509 entry before the PKCS#7 one", append(winCertificate(1, leaf), winCertificate(2, makePKCS7(t, leaf, false, leaf))...), want, nil},
		{"negative serial", winCertificate(2, makePKCS7(t, negative, false, negative)),
			Signature{Format: "authenticode", Subject: "Old Vendor Ltd", Organization: "Old Vendor", Issuer: "Old CA", Serial: "ff01"}, nil},
		{"only an x509 entry", winCertificate(1, leaf), Signature{}, ErrUnsigned},
		{"signer certificate missing", winCertificate(2, makePKCS7(t, leaf, false, inter)), Signature{}, errAny},
		{"not signed data", winCertificate(2, mustMarshal(t, contentInfo{ContentType: asn1.ObjectIdentifier{1, 2, 3}})), Signature{}, errAny},
		{"entry longer than table", winCertificate(2, make([]byte, 64))[:40], Signature{}, errAny},
		{"no table", nil, Signature{}, ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := makePE(tt.table, 0)
			got, err := ReadPE(bytes.NewReader(img), int64(len(img)))
			switch {
			case tt.wantErr == nil && err != nil,
				tt.wantErr == errAny && err == nil,
				tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("ReadPE() error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ReadPE() = %+v\nwant      %+v", got, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lenientCert hand-builds a certificate with a raw serial, which
// crypto/x509 refuses to create or parse when negative.
func lenientCert(t *testing.T, serial []byte, cn, org, issuerCN string) []byte {
	t.Helper()
	name := func(cn, o string) asn1.RawValue {
		n := pkix.Name{CommonName: cn}
		if o != "" {
			n.Organization = []string{o}
		}
		return asn1.RawValue{FullBytes: mustMarshal(t, n.ToRDNSequence())}
	}
	alg := testAlg{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}}
	tbs := mustMarshal(t, struct {
		Version  int `asn1:"explicit,tag:0"`
		Serial   asn1.RawValue
		Alg      testAlg
		Issuer   asn1.RawValue
		Validity asn1.RawValue
		Subject  asn1.RawValue
	}{2, asn1.RawValue{Tag: asn1.TagInteger, Bytes: serial}, alg, name(issuerCN, ""), asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true}, name(cn, org)})
	return mustMarshal(t, struct {
		TBS asn1.RawValue
		Alg testAlg
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: []byte{1}, BitLength: 8}})
}

func TestNotExecutable(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		data    []byte
		wantErr error
		errText string
	}{
		{"ELF", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...), ErrNotExecutable, "ELF"},
		{"text", []byte("#!/bin/sh\necho hello\n"), ErrNotExecutable, ""},
		{"empty", nil, ErrNotExecutable, ""},
		{"DOS program", append([]byte("MZ"), make([]byte, 200)...), ErrNotExecutable, "no PE header"},
		{"Java class", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 65, 1, 2, 3, 4}, ErrNotExecutable, "Java"},
		{"Mach-O without signature", makeMachO(nil), ErrUnsigned, ""},
		{"truncated Mach-O", makeMachO(nil)[:20], ErrNotExecutable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Read() error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("Read() error %q lacks the path or %q", err, tt.errText)
			}
		})
	}
	if _, err := Read(dir); !errors.Is(err, ErrNotExecutable) {
		t.Errorf("Read(directory) error = %v, want ErrNotExecutable", err)
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestHostileLengths(t *testing.T) {
	leaf, _ := developerID(t)
	table := winCertificate(2, makePKCS7(t, leaf, false, leaf))
	peWith := func(edit func(img []byte, dd int)) []byte {
		img := makePE(table, 0)
		edit(img, peSecurityDir(t, img))
		return img
	}
	put32 := func(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
	tests := []struct {
		name string
		img  []byte
		read func([]byte) (Signature, error)
	}{
		{"table past EOF", peWith(func(img []byte, dd int) { put32(img[dd+4:], 1<<20) }), peReader},
		{"table over 8 MiB", peWith(func(img []byte, dd int) { put32(img[dd+4:], MaxCertificateTable+8) }), peReader},
		{"entry length 4 GiB", peWith(func(img []byte, dd int) { put32(img[len(img)-len(table):], 0xffffffff) }), peReader},
		{"entry length 0", peWith(func(img []byte, dd int) { put32(img[len(img)-len(table):], 0) }), peReader},
		{"huge load commands", func() []byte { b := makeMachO(superBlob()); put32(b[20:], 0xffffffff); return b }(), machoReader},
		{"load command size 0", func() []byte { b := makeMachO(superBlob()); put32(b[36:], 0); return b }(), machoReader},
		{"signature past EOF", func() []byte { b := makeMachO(superBlob()); put32(b[44:], 0x7fffffff); return b }(), machoReader},
		{"superblob count huge", func() []byte { b := makeMachO(superBlob()); b[64+8], b[64+9] = 0xff, 0xff; return b }(), machoReader},
		{"fat slice past EOF", func() []byte { b := makeFat(false, makeMachO(nil)); b[16] = 0x7f; return b }(), machoReader},
		{"deep BER", makePE(winCertificate(2, deepBER(100000)), 0), peReader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := tt.read(tt.img)
			t.Logf("error = %v", err)
			if err == nil {
				t.Fatalf("no error, got %+v", sig)
			}
			if errors.Is(err, ErrNotExecutable) {
				t.Errorf("error = %v: a damaged executable is not a non-executable", err)
			}
		})
	}
}

// TestHostileAllocation feeds the largest signature blob accepted, made of
// thousands of bogus certificates inside indefinite-length BER, and checks
// that the parse allocates a small multiple of it.
func TestHostileAllocation(t *testing.T) {
	bogus := []byte{0x30, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0, 0, 0, 0} // SEQ{SEQ{INTEGER}}
	certs := bytes.Repeat(bogus, (MaxSignatureBlob-256)/len(bogus))
	blob := []byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, // signedData
		0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x00, 0xa0, 0x80}
	blob = append(blob, certs...)
	blob = append(blob, 0, 0, // end of certificates
		0x31, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x30, 0x80, 0x30, 0x00, 0x02, 0x01, 0x01, 0, 0, 0, 0, 0, 0, // signerInfos
		0, 0, 0, 0, 0, 0) // end of SignedData, [0], ContentInfo
	if len(blob) > MaxSignatureBlob {
		t.Fatalf("blob of %d bytes over the limit", len(blob))
	}
	for _, img := range [][]byte{
		makePE(winCertificate(2, blob), 0),
		makeMachO(superBlob(slot{csSlotCodeDirectory, codeDirectory(0x20400, 0, "x", "")}, slot{csSlotSignature, wrapBlob(csMagicBlobWrapper, blob)})),
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Read(writeTemp(t, img))
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "certificate is not in the signature") {
			t.Fatalf("error = %v, want the signer's certificate not found", err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*MaxSignatureBlob {
			t.Errorf("parse of a %d-byte blob allocated %d bytes (%v)", len(blob), alloc, err)
		} else {
			t.Logf("%d-byte blob: %d bytes allocated, error %v", len(blob), alloc, err)
		}
	}
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func peReader(b []byte) (Signature, error)    { return ReadPE(bytes.NewReader(b), int64(len(b))) }
func machoReader(b []byte) (Signature, error) { return ReadMachO(bytes.NewReader(b), int64(len(b))) }

// deepBER nests n indefinite-length SEQUENCEs.
func deepBER(n int) []byte {
	b := bytes.Repeat([]byte{0x30, 0x80}, n)
	return append(b, make([]byte, 2*n)...)
}

func TestBERToDER(t *testing.T) {
	leaf, inter := developerID(t)
	der := makePKCS7(t, leaf, false, inter, leaf)
	got, err := berToDER(toBER(t, der))
	if err != nil || !bytes.Equal(got, der) {
		t.Errorf("berToDER(toBER(der)) != der (err %v)", err)
	}
	if got, err := berToDER(der); err != nil || !bytes.Equal(got, der) {
		t.Errorf("berToDER(der) != der (err %v)", err)
	}
	// Non-minimal long-form length becomes minimal.
	if got, err := berToDER([]byte{0x04, 0x82, 0x00, 0x02, 'h', 'i'}); err != nil || !bytes.Equal(got, []byte{0x04, 0x02, 'h', 'i'}) {
		t.Errorf("berToDER(non-minimal) = %x, %v", got, err)
	}
	for _, bad := range [][]byte{
		{0x04, 0x80, 0, 0},       // indefinite primitive
		{0x30, 0x80, 0x04, 0x01}, // no end-of-contents
		{0x30, 0x85, 1, 1, 1, 1, 1},
		deepBER(maxBERDepth + 2),
	} {
		if _, err := berToDER(bad); err == nil {
			t.Errorf("berToDER(%x) succeeded", bad)
		}
	}
}

// TestReadsOnlyHeadersAndSignature checks the cost promise: a 10 MB image
// costs a handful of small reads.
func TestReadsOnlyHeadersAndSignature(t *testing.T) {
	leaf, inter := developerID(t)
	img := makePE(winCertificate(2, makePKCS7(t, leaf, false, inter, leaf)), 10<<20)
	c := &countingReaderAt{r: bytes.NewReader(img)}
	if _, err := ReadPE(c, int64(len(img))); err != nil {
		t.Fatal(err)
	}
	if c.bytes > 8<<10 || c.calls > 6 {
		t.Errorf("ReadPE of a %d-byte image read %d bytes in %d calls", len(img), c.bytes, c.calls)
	}

	macho := fixtureBytes(t, "macho-arm64")
	c = &countingReaderAt{r: bytes.NewReader(macho)}
	if _, err := ReadMachO(c, int64(len(macho))); err != nil {
		t.Fatal(err)
	}
	if c.bytes > 8<<10 {
		t.Errorf("ReadMachO of a %d-byte image read %d bytes in %d calls", len(macho), c.bytes, c.calls)
	}
	t.Logf("Mach-O: %d of %d bytes in %d reads", c.bytes, len(macho), c.calls)
}

func FuzzReadPE(f *testing.F) {
	f.Add(makePE(nil, 0))
	f.Add(makePE(winCertificate(2, []byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0, 0}), 0))
	for _, name := range []string{"pe-signed", "pe-chain"} {
		if img := optionalFixture(f, name); img != nil {
			f.Add(compactPE(f, img))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, err := ReadPE(bytes.NewReader(data), int64(len(data)))
		checkResult(t, sig, err, "authenticode")
	})
}

func FuzzReadMachO(f *testing.F) {
	f.Add(makeMachO(nil))
	f.Add(makeMachO(superBlob(slot{csSlotCodeDirectory, codeDirectory(0x20400, 0, "com.x", "TEAM")}, slot{csSlotSignature, wrapBlob(csMagicBlobWrapper, []byte{0x30, 0x80, 0, 0})})))
	f.Add(makeFat(false, makeMachO(nil), makeMachO(superBlob(slot{csSlotCodeDirectory, codeDirectory(0x20100, 2, "a", "")})))[:4096+64])
	if img := optionalFixture(f, "macho-arm64"); img != nil {
		f.Add(compactMachO(f, img))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, err := ReadMachO(bytes.NewReader(data), int64(len(data)))
		checkResult(t, sig, err, "apple")
	})
}

// optionalFixture returns a fixture's bytes, or nil when the tools to build
// it are missing, so fuzzing runs anywhere.
func optionalFixture(f *testing.F, name string) []byte {
	v, _ := fixtures.LoadOrStore(name, new(lazyFile))
	lf := v.(*lazyFile)
	lf.once.Do(func() { lf.path, lf.skip, lf.err = buildFixture(name) })
	if lf.skip != "" || lf.err != nil {
		f.Logf("seed %s not available: %s %v", name, lf.skip, lf.err)
		return nil
	}
	b, err := os.ReadFile(lf.path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func checkResult(t *testing.T, sig Signature, err error, format string) {
	if err == nil && sig.Format != format {
		t.Fatalf("success with format %q", sig.Format)
	}
	for _, s := range []string{sig.Subject, sig.Organization, sig.Issuer, sig.Serial, sig.TeamID, sig.Identifier} {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q in %+v", s, sig)
		}
	}
	// At most maxString bytes are read; invalid UTF-8 bytes become U+FFFD
	// (3 bytes) each at worst.
	if len(sig.Identifier) > 3*maxString || len(sig.TeamID) > 3*maxString {
		t.Fatalf("oversized string in %+v", sig)
	}
}

func BenchmarkReadPE(b *testing.B) {
	// A 10 MB image whose signature is osslsigncode's when available.
	var table []byte
	if v, _ := fixtures.LoadOrStore("pe-signed", new(lazyFile)); true {
		lf := v.(*lazyFile)
		lf.once.Do(func() { lf.path, lf.skip, lf.err = buildFixture("pe-signed") })
		if lf.skip == "" && lf.err == nil {
			img, _ := os.ReadFile(lf.path)
			dd := peSecurityDir(b, img)
			off, n := le32(img[dd:]), le32(img[dd+4:])
			table = img[off : off+n]
		}
	}
	if table == nil {
		leaf, _ := newCert(serialLeaf, pkix.Name{CommonName: "Bench Signer"}, false, nil, nil)
		table = winCertificate(2, makePKCS7(b, leaf, false, leaf))
	}
	img := makePE(table, 10<<20)
	path := filepath.Join(b.TempDir(), "big.exe")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("file", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Read(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memory", func(b *testing.B) {
		b.ReportAllocs()
		r := bytes.NewReader(img)
		for b.Loop() {
			if _, err := ReadPE(r, int64(len(img))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func le32(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 | int(b[3])<<24 }
