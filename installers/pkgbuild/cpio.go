package pkgbuild

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// cpioEntry is one member of an odc ("070707", POSIX.1 portable) cpio archive, the format
// macOS Installer expects inside Payload and Scripts.
type cpioEntry struct {
	name  string // "." or "./relative/path"
	mode  uint32 // st_mode: type bits | permission bits
	uid   uint32
	gid   uint32
	mtime int64
	data  []byte
}

// writeCPIO writes entries as a gzip-compressed odc cpio archive ending in the TRAILER!!!
// member. Inode numbers are the entry's position so hard-link detection never merges files.
func writeCPIO(w io.Writer, entries []cpioEntry) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	// gzip.Writer leaves Header.ModTime zero and Name empty: the stream depends only on the input.
	for i, e := range entries {
		if err := writeCPIOEntry(zw, uint32(i+1), e); err != nil {
			return err
		}
	}
	if err := writeCPIOEntry(zw, 0, cpioEntry{name: "TRAILER!!!"}); err != nil {
		return err
	}
	return zw.Close()
}

func writeCPIOEntry(w io.Writer, ino uint32, e cpioEntry) error {
	const max6, max11 = 0o777777, 0o77777777777
	if len(e.data) > max11 || ino > max6 || len(e.name)+1 > max6 {
		return fmt.Errorf("cpio: %s does not fit the odc format", e.name)
	}
	nlink := 1
	if e.mode&0o170000 == 0o040000 {
		nlink = 2
	}
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, "070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o",
		0, ino, e.mode, e.uid, e.gid, nlink, 0, e.mtime, len(e.name)+1, len(e.data))
	hdr.WriteString(e.name)
	hdr.WriteByte(0)
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	_, err := w.Write(e.data)
	return err
}
