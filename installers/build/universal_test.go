package main

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"testing"
)

// thinMachO is the smallest input universalBinary accepts: a Mach-O 64 header.
func thinMachO(cpu macho.Cpu, size int) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b, 0xfeedfacf)
	binary.LittleEndian.PutUint32(b[4:], uint32(cpu))
	binary.LittleEndian.PutUint32(b[8:], 3)
	for i := 32; i < size; i++ {
		b[i] = byte(i)
	}
	return b
}

func TestUniversalBinaryLayout(t *testing.T) {
	amd, arm := thinMachO(macho.CpuAmd64, 20000), thinMachO(macho.CpuArm64, 5000)
	fat, err := universalBinary(amd, arm)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	if be.Uint32(fat) != 0xcafebabe || be.Uint32(fat[4:]) != 2 {
		t.Fatalf("fat header % x", fat[:8])
	}
	for i, want := range [][]byte{amd, arm} {
		h := fat[8+20*i:]
		off, size := be.Uint32(h[8:]), be.Uint32(h[12:])
		if off%(1<<14) != 0 || be.Uint32(h[16:]) != 14 {
			t.Errorf("slice %d at %d, align 2^%d", i, off, be.Uint32(h[16:]))
		}
		if !bytes.Equal(fat[off:off+size], want) {
			t.Errorf("slice %d is not the input", i)
		}
	}
	if _, err := universalBinary(amd, amd); err == nil {
		t.Error("two slices for one CPU: no error")
	}
	if _, err := universalBinary([]byte("MZ not mach-o")); err == nil {
		t.Error("a non-Mach-O slice: no error")
	}
}
