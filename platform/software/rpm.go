package software

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/farmwatch/farmwatch/platform/fsroot"
	_ "modernc.org/sqlite" // pure-Go SQLite driver for the rpm database
)

// rpm header tags and types (rpm's rpmtag.h).
const (
	rpmTagName    = 1000
	rpmTagVersion = 1001
	rpmTagRelease = 1002
	rpmTagEpoch   = 1003
	rpmTagVendor  = 1011

	rpmTypeInt32       = 4
	rpmTypeString      = 6
	rpmTypeStringArray = 8
	rpmTypeI18NString  = 9

	// maxRPMHeader bounds one header blob; rpm itself refuses headers over
	// 256 MB, real ones are 10-500 KiB.
	maxRPMHeader = 32 << 20
	// rpm's own limits on the index (hdrchkTags) and data (hdrchkData).
	maxRPMIndex = 0xffff
	maxRPMData  = 256 << 20
)

// rpmHeaderMagic starts a header in a package file; rpmdb blobs omit it.
var rpmHeaderMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}

// rpmDB reads the installed packages from the SQLite rpm database
// (var/lib/rpm/rpmdb.sqlite, the default since Fedora 33 and RHEL 9). The
// older Berkeley DB (Packages) and SUSE's NDB (Packages.db) are not read.
//
// The database is opened read-only; a captured tree's copy is opened
// immutable so that SQLite neither locks it nor creates -wal or -shm files
// next to it; it then ignores a -wal file copied along, so changes not yet
// checkpointed into the main file are missed. Cost: one full scan of the
// Packages table, tens of MB on a workstation.
func rpmDB(ctx context.Context, root string) ([]Package, error) {
	path := filepath.Join(root, "var", "lib", "rpm", "rpmdb.sqlite")
	if _, err := os.Stat(path); err != nil {
		if fsroot.Absent(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	q := "mode=ro"
	if root != "/" && root != "" {
		q += "&immutable=1"
	}
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT blob FROM Packages")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer rows.Close()
	var pkgs []Package
	var errs []error
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return pkgs, fmt.Errorf("read %s: %w", path, err)
		}
		h, err := parseRPMHeader(blob)
		if err != nil {
			if len(errs) < 5 { // one bad row is worth reporting, not thousands
				errs = append(errs, fmt.Errorf("read %s: %w", path, err))
			}
			continue
		}
		if p, ok := h.pkg(); ok {
			pkgs = append(pkgs, p)
		}
	}
	if err := rows.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read %s: %w", path, err))
	}
	return pkgs, errors.Join(errs...)
}

// rpmHeader holds the tags of one header that List uses.
type rpmHeader struct {
	name, version, release, vendor string
	epoch                          int64 // -1 when absent
}

func (h rpmHeader) pkg() (Package, bool) {
	if h.name == "" {
		return Package{}, false
	}
	v := h.version
	if h.release != "" {
		v += "-" + h.release
	}
	if h.epoch > 0 {
		v = strconv.FormatInt(h.epoch, 10) + ":" + v
	}
	return Package{Name: h.name, Version: v, Publisher: h.vendor, Source: "rpm"}, true
}

// parseRPMHeader reads NAME, VERSION, RELEASE, EPOCH and VENDOR from an rpm
// header blob: big-endian il (index entries) and dl (data bytes), then il
// entries of {tag, type, offset, count}, then the data store. A leading
// header magic (package-file form) is skipped. Every offset is checked
// against the data store; the blob is never trusted.
func parseRPMHeader(b []byte) (rpmHeader, error) {
	h := rpmHeader{epoch: -1}
	if len(b) > maxRPMHeader {
		return h, fmt.Errorf("rpm header: %d bytes, more than %d", len(b), maxRPMHeader)
	}
	b = bytes.TrimPrefix(b, rpmHeaderMagic)
	if len(b) < 8 {
		return h, errors.New("rpm header: too short")
	}
	il := binary.BigEndian.Uint32(b[0:4])
	dl := binary.BigEndian.Uint32(b[4:8])
	if il == 0 || il > maxRPMIndex || dl > maxRPMData {
		return h, fmt.Errorf("rpm header: bad sizes il=%d dl=%d", il, dl)
	}
	start := 8 + 16*uint64(il)
	if start+uint64(dl) > uint64(len(b)) {
		return h, fmt.Errorf("rpm header: il=%d dl=%d exceed %d bytes", il, dl, len(b))
	}
	data := b[start : start+uint64(dl)]
	for i := range uint64(il) {
		e := b[8+16*i : 8+16*i+16]
		tag := binary.BigEndian.Uint32(e[0:4])
		typ := binary.BigEndian.Uint32(e[4:8])
		off := binary.BigEndian.Uint32(e[8:12])
		count := binary.BigEndian.Uint32(e[12:16])
		if uint64(off) >= uint64(len(data)) || count == 0 {
			continue
		}
		switch tag {
		case rpmTagName, rpmTagVersion, rpmTagRelease, rpmTagVendor:
			if typ != rpmTypeString && typ != rpmTypeStringArray && typ != rpmTypeI18NString {
				continue
			}
			s, ok := cString(data[off:])
			if !ok {
				return h, fmt.Errorf("rpm header: tag %d: unterminated string", tag)
			}
			switch tag {
			case rpmTagName:
				h.name = clean(s)
			case rpmTagVersion:
				h.version = clean(s)
			case rpmTagRelease:
				h.release = clean(s)
			case rpmTagVendor:
				h.vendor = clean(s)
			}
		case rpmTagEpoch:
			if typ == rpmTypeInt32 && uint64(off)+4 <= uint64(len(data)) {
				h.epoch = int64(binary.BigEndian.Uint32(data[off:]))
			}
		}
	}
	return h, nil
}

// cString returns the NUL-terminated string at the start of b, at most 4 KiB.
func cString(b []byte) (string, bool) {
	if len(b) > 4096 {
		b = b[:4096]
	}
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", false
	}
	return string(b[:i]), true
}
