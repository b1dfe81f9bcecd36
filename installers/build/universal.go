package main

import (
	"encoding/binary"
	"fmt"
)

// universalBinary joins thin 64-bit Mach-O executables into one universal ("fat") binary, what
// Apple's lipo -create does, so that one .pkg serves Intel and Apple-silicon Macs. Each slice
// is copied unchanged (the Go linker's ad-hoc signature of an arm64 slice stays valid) at a
// 16 KiB-aligned offset, the page size of arm64 macOS.
func universalBinary(thin ...[]byte) ([]byte, error) {
	const align = 14 // log2 of the slice alignment
	be, le := binary.BigEndian, binary.LittleEndian
	out := be.AppendUint32(nil, 0xcafebabe) // FAT_MAGIC
	out = be.AppendUint32(out, uint32(len(thin)))
	offset := uint32(1 << align)
	seen := map[uint32]bool{}
	for i, b := range thin {
		if len(b) < 12 || le.Uint32(b) != 0xfeedfacf { // MH_MAGIC_64
			return nil, fmt.Errorf("slice %d is not a 64-bit little-endian Mach-O file", i)
		}
		cpu := le.Uint32(b[4:])
		if seen[cpu] {
			return nil, fmt.Errorf("two slices for CPU type %#x", cpu)
		}
		seen[cpu] = true
		out = be.AppendUint32(out, cpu)
		out = be.AppendUint32(out, le.Uint32(b[8:])) // CPU subtype
		out = be.AppendUint32(out, offset)
		out = be.AppendUint32(out, uint32(len(b)))
		out = be.AppendUint32(out, align)
		offset += (uint32(len(b)) + 1<<align - 1) &^ (1<<align - 1)
	}
	for _, b := range thin {
		out = append(out, make([]byte, (len(out)+1<<align-1)&^(1<<align-1)-len(out))...)
		out = append(out, b...)
	}
	return out, nil
}
