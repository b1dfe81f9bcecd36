package codesign

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"io"
)

const (
	winCertTypePKCSSignedData = 0x0002
	maxWinCertificates        = 64
)

// ReadPE returns the Authenticode signer of the PE file in r (size bytes):
// the first WIN_CERTIFICATE of type PKCS_SIGNED_DATA in the attribute
// certificate table, named from the signer's certificate. A PE file without
// that table gives ErrUnsigned, a non-PE file ErrNotExecutable. Nested
// (dual) signatures are not followed: the outer signer is reported.
//
// Cost: three small header reads and one read of the signature blob (a few
// KiB to tens of KiB), at most MaxSignatureBlob; the image itself, the
// section table and the COFF symbols are never read (debug/pe.NewFile would
// read the symbols, megabytes for an unstripped binary).
func ReadPE(r io.ReaderAt, size int64) (Signature, error) {
	sig, err := readPE(r, size)
	if err != nil {
		return sig, fmt.Errorf("codesign: %w", err)
	}
	return sig, nil
}

func readPE(r io.ReaderAt, size int64) (Signature, error) {
	dos, err := readAt(r, size, 0, 64)
	if err != nil || dos[0] != 'M' || dos[1] != 'Z' {
		return Signature{}, fmt.Errorf("pe: no MZ header: %w", ErrNotExecutable)
	}
	lfanew := int64(binary.LittleEndian.Uint32(dos[0x3c:]))
	nt, err := readAt(r, size, lfanew, 4+20)
	if err != nil || string(nt[:4]) != "PE\x00\x00" {
		return Signature{}, fmt.Errorf("pe: no PE header at offset %d (a DOS program?): %w", lfanew, ErrNotExecutable)
	}
	var fh pe.FileHeader
	if err := binary.Read(bytes.NewReader(nt[4:]), binary.LittleEndian, &fh); err != nil {
		return Signature{}, fmt.Errorf("pe: file header: %w", err)
	}
	optSize := int64(fh.SizeOfOptionalHeader)
	if optSize < 2 {
		return Signature{}, fmt.Errorf("pe: no optional header (an object file?): %w", ErrNotExecutable)
	}
	// The largest optional header with 16 data directories is 240 bytes;
	// anything past that is not needed.
	opt, err := readAt(r, size, lfanew+24, min(optSize, 240))
	if err != nil {
		return Signature{}, fmt.Errorf("pe: optional header: %w", err)
	}
	padded := make([]byte, 240)
	copy(padded, opt)
	var dirs [16]pe.DataDirectory
	var ndirs uint32
	var dirsAt int64 // offset of DataDirectory[0] in the optional header
	switch magic := binary.LittleEndian.Uint16(opt); magic {
	case 0x10b:
		var oh pe.OptionalHeader32
		if err := binary.Read(bytes.NewReader(padded), binary.LittleEndian, &oh); err != nil {
			return Signature{}, fmt.Errorf("pe: optional header: %w", err)
		}
		dirs, ndirs, dirsAt = oh.DataDirectory, oh.NumberOfRvaAndSizes, 96
	case 0x20b:
		var oh pe.OptionalHeader64
		if err := binary.Read(bytes.NewReader(padded), binary.LittleEndian, &oh); err != nil {
			return Signature{}, fmt.Errorf("pe: optional header: %w", err)
		}
		dirs, ndirs, dirsAt = oh.DataDirectory, oh.NumberOfRvaAndSizes, 112
	default:
		return Signature{}, fmt.Errorf("pe: unknown optional header magic %#x: %w", magic, ErrNotExecutable)
	}
	const security = pe.IMAGE_DIRECTORY_ENTRY_SECURITY
	if ndirs <= security || optSize < dirsAt+(security+1)*8 {
		return Signature{}, fmt.Errorf("pe: no security data directory: %w", ErrUnsigned)
	}
	// For this one directory VirtualAddress is a file offset.
	off, n := int64(dirs[security].VirtualAddress), int64(dirs[security].Size)
	if off == 0 || n == 0 {
		return Signature{}, fmt.Errorf("pe: empty certificate table: %w", ErrUnsigned)
	}
	if n > MaxCertificateTable {
		return Signature{}, fmt.Errorf("pe: certificate table of %d bytes exceeds the %d-byte limit", n, MaxCertificateTable)
	}
	if off > size || n > size-off {
		return Signature{}, fmt.Errorf("pe: certificate table [%d, %d) beyond the end of the %d-byte file", off, off+n, size)
	}
	end := off + n
	for i := 0; off+8 <= end && i < maxWinCertificates; i++ {
		hdr, err := readAt(r, size, off, 8)
		if err != nil {
			return Signature{}, fmt.Errorf("pe: certificate entry %d: %w", i, err)
		}
		length := int64(binary.LittleEndian.Uint32(hdr))
		typ := binary.LittleEndian.Uint16(hdr[6:])
		if length < 8 || length > end-off {
			return Signature{}, fmt.Errorf("pe: certificate entry %d at offset %d has bad length %d", i, off, length)
		}
		if typ == winCertTypePKCSSignedData {
			if length-8 > MaxSignatureBlob {
				return Signature{}, fmt.Errorf("pe: signature of %d bytes exceeds the %d-byte limit", length-8, MaxSignatureBlob)
			}
			blob, err := readAt(r, size, off+8, length-8)
			if err != nil {
				return Signature{}, fmt.Errorf("pe: signature: %w", err)
			}
			s, err := parseSignedData(blob)
			if err != nil {
				return Signature{}, fmt.Errorf("pe: authenticode %w", err)
			}
			sig := Signature{
				Format:       FormatAuthenticode,
				Subject:      s.subject,
				Organization: s.organization,
				Issuer:       s.issuer,
				Serial:       s.serial,
			}
			sig.clean()
			return sig, nil
		}
		off += (length + 7) &^ 7 // entries are 8-byte aligned
	}
	return Signature{}, fmt.Errorf("pe: no PKCS#7 signed data in the certificate table: %w", ErrUnsigned)
}
