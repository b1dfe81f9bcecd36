// Package codesign reads who signed an executable from the file itself, on
// any OS: the Authenticode signature of a Windows PE file and the embedded
// code signature of a macOS Mach-O file (thin or universal).
//
// The agent uses it to recognise a remote-control tool whose executable was
// renamed: the signer ("AnyDesk Software GmbH"), or the Apple team ID and
// bundle identifier, still name it. The
// signature is read, never verified: no chain building, no hash of the image,
// no revocation. A tampered file can carry any identity it likes, so callers
// treat the result as evidence, not proof; verification is the OS's job.
//
// Serial is lowercase hex of the certificate serial number's magnitude,
// as openssl x509 -serial prints it (in upper case): compare serials with
// strings.EqualFold.
//
// Executables are untrusted input. Parsing goes through an io.ReaderAt and
// touches only the headers and the signature, never the whole image; every
// length read from the file is checked against the file size and against
// the limits below before anything is allocated.
package codesign

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Signature is the code-signing identity embedded in an executable. It is read, not verified
// (chain, hash and revocation checks are the OS's job): callers treat it as evidence, never as
// proof.
type Signature struct {
	Format       string // "authenticode" (PE) or "apple" (Mach-O)
	Subject      string // signer certificate subject common name, e.g. "AnyDesk Software GmbH"
	Organization string // signer certificate O=
	Issuer       string // issuer CN
	Serial       string // signer certificate serial, hex
	TeamID       string // Apple: team identifier from the CodeDirectory (or the leaf cert's OU)
	Identifier   string // Apple: the code signing identifier (usually the bundle id)
	AdHoc        bool   // Apple: ad-hoc signature without certificates
}

// Format values.
const (
	FormatAuthenticode = "authenticode"
	FormatApple        = "apple"
)

var (
	// ErrUnsigned means the file is a PE or Mach-O executable without an
	// embedded signature.
	ErrUnsigned = errors.New("not signed")
	// ErrNotExecutable means the file is neither a PE nor a Mach-O file
	// (ELF, scripts, text, Java class files...). ELF has no embedded
	// signature format this package could read.
	ErrNotExecutable = errors.New("not a PE or Mach-O executable")
)

// Limits on what a hostile file can make the parser read or allocate.
const (
	// MaxCertificateTable is the largest PE attribute certificate table
	// accepted. Real ones are 5–30 KiB.
	MaxCertificateTable = 8 << 20
	// MaxSignatureBlob is the largest single PKCS#7 blob (a PE
	// WIN_CERTIFICATE or a Mach-O CMS blob) read into memory.
	MaxSignatureBlob = 2 << 20
	// maxLoadCommands bounds the Mach-O load command area read at once.
	maxLoadCommands = 1 << 20
	// maxString bounds Apple identifier and team id strings.
	maxString = 1024
)

// Read opens the file at path and returns its embedded signature. It
// recognises the format from the first bytes: "MZ" is read as PE, the
// Mach-O and universal magics as Mach-O. An executable without a signature
// gives an error satisfying errors.Is(err, ErrUnsigned), anything else
// (ELF, text) errors.Is(err, ErrNotExecutable). Cost: one open, one stat and
// a few small reads of the headers and the signature (typically 10–40 KiB in
// total), however large the file.
func Read(path string) (Signature, error) {
	f, err := os.Open(path)
	if err != nil {
		return Signature{}, fmt.Errorf("codesign: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Signature{}, fmt.Errorf("codesign: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Signature{}, fmt.Errorf("codesign %s: not a regular file: %w", path, ErrNotExecutable)
	}
	size := fi.Size()
	var magic [4]byte
	if size >= 4 {
		if _, err := f.ReadAt(magic[:], 0); err != nil {
			return Signature{}, fmt.Errorf("codesign %s: %w", path, err)
		}
	}
	var sig Signature
	switch {
	case magic[0] == 'M' && magic[1] == 'Z':
		sig, err = readPE(f, size)
	case isMachOMagic(magic):
		sig, err = readMachO(f, size)
	case string(magic[:]) == "\x7fELF":
		err = fmt.Errorf("ELF file: %w", ErrNotExecutable)
	default:
		err = ErrNotExecutable
	}
	if err != nil {
		return sig, fmt.Errorf("codesign %s: %w", path, err)
	}
	return sig, nil
}

// readAt reads exactly n bytes at off, refusing ranges outside [0, size)
// before allocating. Callers bound n by one of the limits above.
func readAt(r io.ReaderAt, size, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > size || n > size-off {
		return nil, fmt.Errorf("%d bytes at offset %d lie beyond the end of the %d-byte file", n, off, size)
	}
	buf := make([]byte, n)
	m, err := r.ReadAt(buf, off)
	if m == len(buf) {
		return buf, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("read %d bytes at offset %d: %w", n, off, err)
}

// cString returns the NUL-terminated string at the start of b, or false
// when b has no NUL.
func cString(b []byte) (string, bool) {
	for i, c := range b {
		if c == 0 {
			return strings.ToValidUTF8(string(b[:i]), "\uFFFD"), true
		}
	}
	return "", false
}

func isMachOMagic(m [4]byte) bool {
	switch binary.BigEndian.Uint32(m[:]) {
	case fatMagic, fatMagic64, 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe:
		return true
	}
	return false
}

// clean makes every string field valid UTF-8: names come from hostile files.
func (s *Signature) clean() {
	for _, p := range []*string{&s.Subject, &s.Organization, &s.Issuer, &s.Serial, &s.TeamID, &s.Identifier} {
		*p = strings.ToValidUTF8(*p, "\uFFFD")
	}
}
