package pkgbuild

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// xarNode is a file or directory of a xar archive. Files are stored unencoded
// (application/octet-stream): a flat package's Payload and Scripts are already gzip streams.
type xarNode struct {
	name     string
	data     []byte
	dir      bool
	children []*xarNode
}

// writeXar writes a xar archive: a 28-byte big-endian header, the zlib-compressed XML table
// of contents, then the heap, which starts with the SHA-1 of the compressed TOC followed by
// every file's bytes in TOC order. Every entry is owned by root:wheel and dated mtime.
func writeXar(w io.Writer, nodes []*xarNode, mtime time.Time) error {
	const sumSize = sha1.Size
	var toc, heap bytes.Buffer
	heap.Write(make([]byte, sumSize)) // the TOC checksum, filled in below
	stamp := mtime.UTC().Format("2006-01-02T15:04:05Z")

	toc.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<xar>\n <toc>\n")
	fmt.Fprintf(&toc, "  <checksum style=\"sha1\">\n   <offset>0</offset>\n   <size>%d</size>\n  </checksum>\n", sumSize)
	fmt.Fprintf(&toc, "  <creation-time>%s</creation-time>\n", mtime.UTC().Format("2006-01-02T15:04:05"))
	id := 0
	var walk func(n *xarNode, depth int)
	walk = func(n *xarNode, depth int) {
		id++
		ind := strings.Repeat(" ", depth+2)
		fmt.Fprintf(&toc, "%s<file id=\"%d\">\n", ind, id)
		if !n.dir {
			sum := sha1.Sum(n.data)
			s := hex.EncodeToString(sum[:])
			fmt.Fprintf(&toc, "%s <data>\n%s  <length>%d</length>\n%s  <offset>%d</offset>\n%s  <size>%d</size>\n"+
				"%s  <encoding style=\"application/octet-stream\"/>\n"+
				"%s  <extracted-checksum style=\"sha1\">%s</extracted-checksum>\n"+
				"%s  <archived-checksum style=\"sha1\">%s</archived-checksum>\n%s </data>\n",
				ind, ind, len(n.data), ind, heap.Len(), ind, len(n.data), ind, ind, s, ind, s, ind)
			heap.Write(n.data)
		}
		typ, mode := "file", "0644"
		if n.dir {
			typ, mode = "directory", "0755"
		}
		fmt.Fprintf(&toc, "%s <ctime>%s</ctime>\n%s <mtime>%s</mtime>\n%s <atime>%s</atime>\n", ind, stamp, ind, stamp, ind, stamp)
		fmt.Fprintf(&toc, "%s <group>wheel</group>\n%s <gid>0</gid>\n%s <user>root</user>\n%s <uid>0</uid>\n", ind, ind, ind, ind)
		fmt.Fprintf(&toc, "%s <mode>%s</mode>\n%s <type>%s</type>\n%s <name>", ind, mode, ind, typ, ind)
		xml.EscapeText(&toc, []byte(n.name))
		toc.WriteString("</name>\n")
		for _, c := range n.children {
			walk(c, depth+1)
		}
		fmt.Fprintf(&toc, "%s</file>\n", ind)
	}
	for _, n := range nodes {
		walk(n, 0)
	}
	toc.WriteString(" </toc>\n</xar>\n")

	var ztoc bytes.Buffer
	zw, err := zlib.NewWriterLevel(&ztoc, zlib.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(toc.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	sum := sha1.Sum(ztoc.Bytes())
	copy(heap.Bytes(), sum[:])

	be := binary.BigEndian
	hdr := be.AppendUint32(nil, 0x78617221) // "xar!"
	hdr = be.AppendUint16(hdr, 28)          // header size
	hdr = be.AppendUint16(hdr, 1)           // version
	hdr = be.AppendUint64(hdr, uint64(ztoc.Len()))
	hdr = be.AppendUint64(hdr, uint64(toc.Len()))
	hdr = be.AppendUint32(hdr, 1) // checksum algorithm: SHA-1
	for _, b := range [][]byte{hdr, ztoc.Bytes(), heap.Bytes()} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
