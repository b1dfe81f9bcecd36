package pkgbuild

import (
	"bytes"
	"encoding/binary"
	"sort"
)

// A Bom ("bill of materials") lists every path the payload installs with its type, mode,
// owner, size and POSIX cksum; Installer uses it for receipts (pkgutil --files) and for
// repairing permissions. It is a block store:
//
//	"BOMStore" header | blocks | vars (name -> block) | block table (offset, length per block)
//
// The "Paths" variable points at a B-tree whose single leaf holds, per path, the pair
// (PathInfo1 block, File block); PathInfo1 names the PathInfo2 block with the metadata and
// File holds the parent's path id and the base name. The empty HLIndex, VIndex and Size64
// trees are present because lsbom and Installer look them up by name.

// bomPath is one path of the payload tree; ids start at 1 for the root ".".
type bomPath struct {
	id, parent uint32
	name       string
	mode       uint32 // st_mode
	uid, gid   uint32
	size       uint32
	cksum      uint32
}

// cksum is the POSIX cksum(1) CRC: CRC-32 (polynomial 0x04C11DB7, MSB first) over the data,
// then over the length in as few little-endian bytes as it takes, inverted.
func cksum(data []byte) uint32 {
	var crc uint32
	add := func(b byte) {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	for _, b := range data {
		add(b)
	}
	for n := len(data); n > 0; n >>= 8 {
		add(byte(n))
	}
	return ^crc
}

// buildBom renders the Bom for paths, which must hold the root "." first.
func buildBom(paths []bomPath) []byte {
	be := binary.BigEndian
	var blocks [][]byte // blocks[0] is the null block
	add := func(b []byte) uint32 {
		blocks = append(blocks, b)
		return uint32(len(blocks) - 1)
	}
	add(nil)

	type leafKey struct {
		parent     uint32
		name       string
		info, file uint32
	}
	var leaf []leafKey
	for _, p := range paths {
		info2 := []byte{1, 1} // type file, unknown 1
		if p.mode&0o170000 == 0o040000 {
			info2[0] = 2 // directory
		}
		info2 = be.AppendUint16(info2, 3) // architecture
		info2 = be.AppendUint16(info2, uint16(p.mode))
		info2 = be.AppendUint32(info2, p.uid)
		info2 = be.AppendUint32(info2, p.gid)
		info2 = be.AppendUint32(info2, 0) // mtime: not recorded, keeps the Bom reproducible
		info2 = be.AppendUint32(info2, p.size)
		info2 = append(info2, 1)
		info2 = be.AppendUint32(info2, p.cksum)
		info2 = be.AppendUint32(info2, 0) // link name length
		if info2[0] == 1 {
			info2 = be.AppendUint32(info2, 0)
		}
		i2 := add(info2)
		file := be.AppendUint32(nil, p.parent)
		file = append(append(file, p.name...), 0)
		f := add(file)
		info1 := be.AppendUint32(be.AppendUint32(nil, p.id), i2)
		leaf = append(leaf, leafKey{p.parent, p.name, add(info1), f})
	}
	// Readers walk the leaf in (parent id, name) order.
	sort.Slice(leaf, func(i, j int) bool {
		if leaf[i].parent != leaf[j].parent {
			return leaf[i].parent < leaf[j].parent
		}
		return leaf[i].name < leaf[j].name
	})
	leafBlock := func(pairs [][2]uint32) []byte {
		b := be.AppendUint16(nil, 1) // is leaf
		b = be.AppendUint16(b, uint16(len(pairs)))
		b = be.AppendUint32(be.AppendUint32(b, 0), 0) // forward, backward
		for _, p := range pairs {
			b = be.AppendUint32(be.AppendUint32(b, p[0]), p[1])
		}
		return b
	}
	tree := func(child, count, blockSize uint32) []byte {
		b := append([]byte("tree"), 0, 0, 0, 1)
		b = be.AppendUint32(b, child)
		b = be.AppendUint32(b, blockSize)
		b = be.AppendUint32(b, count)
		return append(b, 0)
	}
	pairs := make([][2]uint32, len(leaf))
	for i, l := range leaf {
		pairs[i] = [2]uint32{l.info, l.file}
	}
	bomInfo := be.AppendUint32(be.AppendUint32(be.AppendUint32(nil, 1), uint32(len(paths))), 0)
	vars := []struct {
		name  string
		block uint32
	}{
		{"BomInfo", add(bomInfo)},
		{"Paths", add(tree(add(leafBlock(pairs)), uint32(len(paths)), 4096))},
		{"HLIndex", add(tree(add(leafBlock(nil)), 0, 4096))},
		{"VIndex", add(append(be.AppendUint32(be.AppendUint32(nil, 1), add(tree(add(leafBlock(nil)), 0, 128))), 0))},
		{"Size64", add(tree(add(leafBlock(nil)), 0, 4096))},
	}

	var body bytes.Buffer
	offsets := make([]uint32, len(blocks))
	for i, b := range blocks {
		if i > 0 {
			offsets[i] = uint32(32 + body.Len())
			body.Write(b)
		}
	}
	varsOff := uint32(32 + body.Len())
	body.Write(be.AppendUint32(nil, uint32(len(vars))))
	for _, v := range vars {
		body.Write(be.AppendUint32(nil, v.block))
		body.WriteByte(byte(len(v.name)))
		body.WriteString(v.name)
	}
	indexOff := uint32(32 + body.Len())
	varsLen := indexOff - varsOff
	index := be.AppendUint32(nil, uint32(len(blocks)))
	for i, b := range blocks {
		index = be.AppendUint32(be.AppendUint32(index, offsets[i]), uint32(len(b)))
	}
	index = be.AppendUint32(index, 0) // empty free list
	body.Write(index)

	out := []byte("BOMStore")
	out = be.AppendUint32(out, 1)
	out = be.AppendUint32(out, uint32(len(blocks)-1))
	out = be.AppendUint32(out, indexOff)
	out = be.AppendUint32(out, uint32(len(index)))
	out = be.AppendUint32(out, varsOff)
	out = be.AppendUint32(out, varsLen)
	return append(out, body.Bytes()...)
}
