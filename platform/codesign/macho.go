package codesign

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	fatMagic   = 0xcafebabe
	fatMagic64 = 0xcafebabf
	// maxFatArch bounds the slices of a universal binary. Real ones have
	// two or three; 0xcafebabe is also the magic of Java class files, whose
	// version then reads as 45–70 "architectures".
	maxFatArch = 16

	lcCodeSignature = 0x1d

	csMagicEmbeddedSignature = 0xfade0cc0
	csMagicCodeDirectory     = 0xfade0c02
	csMagicBlobWrapper       = 0xfade0b01
	csSlotCodeDirectory      = 0
	csSlotSignature          = 0x10000
	csAdHoc                  = 0x2
	cdSupportsTeamID         = 0x20200
	maxSuperBlobCount        = 256
)

// ReadMachO returns the code signature of the Mach-O file in r (size
// bytes). For a universal (fat) binary it is the first slice that has a
// signature. Identifier, TeamID and AdHoc come from the primary
// CodeDirectory; Subject, Organization, Issuer and Serial from the leaf
// certificate of the CMS blob, whose OU fills TeamID when the
// CodeDirectory predates team ids. Ad-hoc signatures (the Go linker's, for
// one) have no certificate. A Mach-O without LC_CODE_SIGNATURE gives
// ErrUnsigned, anything else ErrNotExecutable. When the CMS blob is
// malformed, the CodeDirectory fields are returned along with the error.
//
// Cost: per slice, reads of the header and load commands, the SuperBlob
// index, the CodeDirectory header and strings, and the CMS blob (a few KiB,
// at most MaxSignatureBlob); the page hashes, the image and the symbol
// table are never read (debug/macho.NewFile would read the symbols).
func ReadMachO(r io.ReaderAt, size int64) (Signature, error) {
	sig, err := readMachO(r, size)
	if err != nil {
		return sig, fmt.Errorf("codesign: %w", err)
	}
	return sig, nil
}

func readMachO(r io.ReaderAt, size int64) (Signature, error) {
	head, err := readAt(r, size, 0, 8)
	if err != nil {
		return Signature{}, fmt.Errorf("mach-o: too short: %w", ErrNotExecutable)
	}
	switch magic := binary.BigEndian.Uint32(head); magic {
	case fatMagic, fatMagic64:
		return readFat(r, size, magic == fatMagic64, binary.BigEndian.Uint32(head[4:]))
	}
	return readThin(r, size)
}

// readFat walks the fat_arch (or fat_arch_64) table by hand: the
// debug/macho.NewFatFile equivalent would parse every slice's symbols and
// does not know fat_arch_64.
func readFat(r io.ReaderAt, size int64, wide bool, n uint32) (Signature, error) {
	if n == 0 || n > maxFatArch {
		return Signature{}, fmt.Errorf("mach-o: universal header claims %d architectures (a Java class file?): %w", n, ErrNotExecutable)
	}
	entSize := int64(20)
	if wide {
		entSize = 32
	}
	table, err := readAt(r, size, 8, int64(n)*entSize)
	if err != nil {
		return Signature{}, fmt.Errorf("mach-o: universal header: %w", err)
	}
	var firstErr error
	for i := range int64(n) {
		e := table[i*entSize:]
		var off, sz uint64
		var cpu macho.Cpu
		if wide {
			cpu = macho.Cpu(binary.BigEndian.Uint32(e))
			off, sz = binary.BigEndian.Uint64(e[8:]), binary.BigEndian.Uint64(e[16:])
		} else {
			var fa macho.FatArchHeader
			_ = binary.Read(bytes.NewReader(e[:20]), binary.BigEndian, &fa)
			cpu, off, sz = fa.Cpu, uint64(fa.Offset), uint64(fa.Size)
		}
		if off < uint64(8+int64(n)*entSize) || off > uint64(size) || sz > uint64(size)-off {
			if firstErr == nil {
				firstErr = fmt.Errorf("mach-o: slice %d (%v) [%d, +%d) lies outside the %d-byte file", i, cpu, off, sz, size)
			}
			continue
		}
		sig, err := readThin(io.NewSectionReader(r, int64(off), int64(sz)), int64(sz))
		if err == nil {
			return sig, nil
		}
		if !errors.Is(err, ErrUnsigned) && firstErr == nil {
			firstErr = fmt.Errorf("mach-o: slice %d (%v): %w", i, cpu, err)
		}
	}
	if firstErr != nil {
		return Signature{}, firstErr
	}
	return Signature{}, fmt.Errorf("mach-o: no slice of the universal binary is signed: %w", ErrUnsigned)
}

// readThin reads the signature of a single-architecture Mach-O.
func readThin(r io.ReaderAt, size int64) (Signature, error) {
	hdr, err := readAt(r, size, 0, 28)
	if err != nil {
		return Signature{}, fmt.Errorf("mach-o: header: %w", ErrNotExecutable)
	}
	var bo binary.ByteOrder
	var hdrSize int64
	switch {
	case binary.LittleEndian.Uint32(hdr) == macho.Magic64:
		bo, hdrSize = binary.LittleEndian, 32
	case binary.LittleEndian.Uint32(hdr) == macho.Magic32:
		bo, hdrSize = binary.LittleEndian, 28
	case binary.BigEndian.Uint32(hdr) == macho.Magic64:
		bo, hdrSize = binary.BigEndian, 32
	case binary.BigEndian.Uint32(hdr) == macho.Magic32:
		bo, hdrSize = binary.BigEndian, 28
	default:
		return Signature{}, fmt.Errorf("mach-o: bad magic %#x: %w", hdr[:4], ErrNotExecutable)
	}
	var fh macho.FileHeader
	_ = binary.Read(bytes.NewReader(hdr), bo, &fh)
	if int64(fh.Cmdsz) > maxLoadCommands {
		return Signature{}, fmt.Errorf("mach-o: %d bytes of load commands exceed the %d-byte limit", fh.Cmdsz, maxLoadCommands)
	}
	cmds, err := readAt(r, size, hdrSize, int64(fh.Cmdsz))
	if err != nil {
		return Signature{}, fmt.Errorf("mach-o: load commands: %w", err)
	}
	for i := uint32(0); i < fh.Ncmd && len(cmds) >= 8; i++ {
		cmd, cmdsize := bo.Uint32(cmds), bo.Uint32(cmds[4:])
		if cmdsize < 8 || uint64(cmdsize) > uint64(len(cmds)) {
			return Signature{}, fmt.Errorf("mach-o: load command %d has bad size %d", i, cmdsize)
		}
		if cmd == lcCodeSignature {
			if cmdsize < 16 {
				return Signature{}, fmt.Errorf("mach-o: LC_CODE_SIGNATURE of %d bytes", cmdsize)
			}
			return readSuperBlob(r, size, int64(bo.Uint32(cmds[8:])), int64(bo.Uint32(cmds[12:])))
		}
		cmds = cmds[cmdsize:]
	}
	return Signature{}, fmt.Errorf("mach-o: no LC_CODE_SIGNATURE: %w", ErrUnsigned)
}

// readSuperBlob reads the embedded signature at [off, off+n). Code
// signature structures are big-endian whatever the architecture.
func readSuperBlob(r io.ReaderAt, size, off, n int64) (Signature, error) {
	if n == 0 {
		return Signature{}, fmt.Errorf("mach-o: empty code signature: %w", ErrUnsigned)
	}
	if off > size || n > size-off {
		return Signature{}, fmt.Errorf("mach-o: code signature [%d, +%d) beyond the end of the %d-byte file", off, n, size)
	}
	// From here on, reads are confined to the signature.
	r, size = io.NewSectionReader(r, off, n), n
	head, err := readAt(r, size, 0, 12)
	if err != nil {
		return Signature{}, fmt.Errorf("mach-o: code signature: %w", err)
	}
	if m := binary.BigEndian.Uint32(head); m != csMagicEmbeddedSignature {
		return Signature{}, fmt.Errorf("mach-o: code signature has magic %#x, want %#x", m, csMagicEmbeddedSignature)
	}
	if l := int64(binary.BigEndian.Uint32(head[4:])); l < size {
		size = max(l, 12)
	}
	count := int64(binary.BigEndian.Uint32(head[8:]))
	if count > maxSuperBlobCount || count > (size-12)/8 {
		return Signature{}, fmt.Errorf("mach-o: code signature claims %d blobs", count)
	}
	index, err := readAt(r, size, 12, count*8)
	if err != nil {
		return Signature{}, fmt.Errorf("mach-o: code signature index: %w", err)
	}
	var cdOff, cmsOff int64 = -1, -1
	for i := range count {
		typ, boff := binary.BigEndian.Uint32(index[i*8:]), int64(binary.BigEndian.Uint32(index[i*8+4:]))
		switch {
		case typ == csSlotCodeDirectory && cdOff < 0:
			cdOff = boff
		case typ == csSlotSignature && cmsOff < 0:
			cmsOff = boff
		}
	}
	if cdOff < 0 {
		return Signature{}, errors.New("mach-o: code signature has no code directory")
	}
	sig := Signature{Format: FormatApple}
	if err := readCodeDirectory(r, size, cdOff, &sig); err != nil {
		return Signature{}, err
	}
	sig.clean()
	if cmsOff < 0 {
		return sig, nil
	}
	blob, err := readBlob(r, size, cmsOff, csMagicBlobWrapper, MaxSignatureBlob)
	if err != nil {
		return sig, fmt.Errorf("mach-o: CMS blob: %w", err)
	}
	if len(blob) == 0 { // ad-hoc signatures often carry an empty wrapper
		return sig, nil
	}
	s, err := parseSignedData(blob)
	if err != nil {
		return sig, fmt.Errorf("mach-o: CMS blob: %w", err)
	}
	sig.Subject, sig.Organization, sig.Issuer, sig.Serial = s.subject, s.organization, s.issuer, s.serial
	if sig.TeamID == "" {
		sig.TeamID = s.unit
	}
	sig.clean()
	return sig, nil
}

// readBlob returns the payload of the blob at off, checking its magic and
// that its length (header included) fits the signature and limit.
func readBlob(r io.ReaderAt, size, off int64, magic uint32, limit int64) ([]byte, error) {
	head, err := readAt(r, size, off, 8)
	if err != nil {
		return nil, err
	}
	if m := binary.BigEndian.Uint32(head); m != magic {
		return nil, fmt.Errorf("magic %#x, want %#x", m, magic)
	}
	l := int64(binary.BigEndian.Uint32(head[4:]))
	if l < 8 {
		return nil, fmt.Errorf("bad length %d", l)
	}
	if l-8 > limit {
		return nil, fmt.Errorf("%d bytes exceed the %d-byte limit", l-8, limit)
	}
	return readAt(r, size, off+8, l-8)
}

// readCodeDirectory fills Identifier, TeamID and AdHoc from the
// CodeDirectory at off without reading its hashes.
func readCodeDirectory(r io.ReaderAt, size, off int64, sig *Signature) error {
	// Fields through teamOffset: magic, length, version, flags, hashOffset,
	// identOffset, nSpecialSlots, nCodeSlots, codeLimit, hash size/type/
	// platform/pageSize, spare2, scatterOffset, teamOffset.
	const fixed = 52
	head, err := readAt(r, size, off, 8)
	if err != nil {
		return fmt.Errorf("mach-o: code directory: %w", err)
	}
	if m := binary.BigEndian.Uint32(head); m != csMagicCodeDirectory {
		return fmt.Errorf("mach-o: code directory has magic %#x, want %#x", m, csMagicCodeDirectory)
	}
	length := int64(binary.BigEndian.Uint32(head[4:]))
	if length < 44 || off > size || length > size-off {
		return fmt.Errorf("mach-o: code directory has bad length %d", length)
	}
	cd, err := readAt(r, size, off, min(length, fixed))
	if err != nil {
		return fmt.Errorf("mach-o: code directory: %w", err)
	}
	version := binary.BigEndian.Uint32(cd[8:])
	sig.AdHoc = binary.BigEndian.Uint32(cd[12:])&csAdHoc != 0
	if sig.Identifier, err = cdString(r, off, length, int64(binary.BigEndian.Uint32(cd[20:]))); err != nil {
		return fmt.Errorf("mach-o: code directory identifier: %w", err)
	}
	if version >= cdSupportsTeamID && len(cd) >= fixed {
		if teamOff := int64(binary.BigEndian.Uint32(cd[48:])); teamOff != 0 {
			if sig.TeamID, err = cdString(r, off, length, teamOff); err != nil {
				return fmt.Errorf("mach-o: code directory team id: %w", err)
			}
		}
	}
	return nil
}

// cdString reads the NUL-terminated string at strOff inside the
// CodeDirectory [cdOff, cdOff+cdLen).
func cdString(r io.ReaderAt, cdOff, cdLen, strOff int64) (string, error) {
	if strOff <= 0 || strOff >= cdLen {
		return "", fmt.Errorf("offset %d outside the %d-byte code directory", strOff, cdLen)
	}
	b, err := readAt(r, cdOff+cdLen, cdOff+strOff, min(cdLen-strOff, maxString+1))
	if err != nil {
		return "", err
	}
	s, ok := cString(b)
	if !ok {
		return "", fmt.Errorf("unterminated or longer than %d bytes", maxString)
	}
	return s, nil
}
