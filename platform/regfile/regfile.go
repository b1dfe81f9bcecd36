// Package regfile parses Windows registry export files (.reg), as written by
// regedit and "reg export": REGEDIT4 and "Windows Registry Editor Version
// 5.00", UTF-16LE with a byte-order mark or UTF-8/ANSI.
//
// The Windows readers of the platform packages read the live registry
// through a three-method interface that *Hive also implements, so their logic
// is tested on recorded exports on every OS. Files are untrusted input: reads
// are bounded and nothing in a file is interpreted beyond its values.
package regfile

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	// MaxSize is the largest file Parse accepts.
	MaxSize = 64 << 20
	// maxLine bounds one logical line (a value with all its continuation
	// lines); regedit wraps binary data at 80 columns, so only very large
	// REG_BINARY or REG_MULTI_SZ values come near it.
	maxLine = 4 << 20
	// maxPath and maxDepth bound a key path; the registry itself allows
	// 255-character key names and 512 levels.
	maxPath  = 32 << 10
	maxDepth = 512
)

// Value types, as numbered by the registry (winnt.h REG_*).
const (
	TypeNone     = 0
	TypeSZ       = 1
	TypeExpandSZ = 2
	TypeBinary   = 3
	TypeDWord    = 4
	TypeMultiSZ  = 7
	TypeQWord    = 11
)

// Hive is the parsed content of one .reg file: the keys it names, with their
// values. Key paths compare case-insensitively, as in the registry.
type Hive struct {
	keys map[string]*Key
}

// Key is one registry key of a Hive.
type Key struct {
	// Path is the full path as first written in the file, with the root in
	// its long form ("HKEY_LOCAL_MACHINE\SOFTWARE\...").
	Path    string
	values  map[string]Value
	subkeys []string
	seen    map[string]bool
}

// Value is one named value; Name "" is the default value (@).
type Value struct {
	Name string
	Type uint32
	// Data is the raw value as the registry would hold it: UTF-16LE for
	// hex(2)/hex(7) in version 5 files, little-endian for DWORD and QWORD.
	// Quoted strings are kept decoded, in str.
	Data []byte
	str  string
	utf8 bool
}

// roots maps the abbreviations accepted by Key to the names .reg files use.
var roots = map[string]string{
	"HKLM": "HKEY_LOCAL_MACHINE",
	"HKCU": "HKEY_CURRENT_USER",
	"HKCR": "HKEY_CLASSES_ROOT",
	"HKU":  "HKEY_USERS",
	"HKCC": "HKEY_CURRENT_CONFIG",
}

// Parse reads a .reg file. It fails on a file larger than MaxSize, an
// unknown header, or a malformed key or value line (with its line number);
// comments, blank lines and deletions ("[-KEY]", "name"=-) are skipped.
// Cost: one pass over b; memory about twice its decoded size.
func Parse(b []byte) (*Hive, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("parse .reg: %d bytes, more than %d", len(b), MaxSize)
	}
	text, err := decode(b)
	if err != nil {
		return nil, err
	}
	h := &Hive{keys: make(map[string]*Key)}
	version5 := false
	var cur *Key
	header := false
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimRight(lines[i], "\r")
		// Join continuation lines: a trailing backslash outside a quoted
		// string continues the value on the next line.
		for strings.HasSuffix(line, "\\") && !strings.HasPrefix(strings.TrimSpace(line), "[") && continues(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimSpace(strings.TrimRight(lines[i], "\r"))
			if len(line) > maxLine {
				return nil, fmt.Errorf("parse .reg: line %d: longer than %d bytes", lineNo, maxLine)
			}
		}
		if len(line) > maxLine {
			return nil, fmt.Errorf("parse .reg: line %d: longer than %d bytes", lineNo, maxLine)
		}
		trimmed := strings.TrimSpace(line)
		if !header {
			switch trimmed {
			case "":
				continue
			case "REGEDIT4":
			case "Windows Registry Editor Version 5.00":
				version5 = true
			default:
				return nil, fmt.Errorf("parse .reg: line %d: not a registry export (header %q)", lineNo, clip(trimmed))
			}
			header = true
			continue
		}
		switch {
		case trimmed == "" || trimmed[0] == ';':
		case trimmed[0] == '[':
			cur = nil
			if !strings.HasSuffix(trimmed, "]") {
				return nil, fmt.Errorf("parse .reg: line %d: unterminated key %q", lineNo, clip(trimmed))
			}
			path := trimmed[1 : len(trimmed)-1]
			if strings.HasPrefix(path, "-") {
				continue // key deletion: ignored
			}
			k, err := h.addKey(path)
			if err != nil {
				return nil, fmt.Errorf("parse .reg: line %d: %w", lineNo, err)
			}
			cur = k
		default:
			v, del, err := parseValue(trimmed, version5)
			if err != nil {
				return nil, fmt.Errorf("parse .reg: line %d: %w", lineNo, err)
			}
			if cur == nil {
				return nil, fmt.Errorf("parse .reg: line %d: value outside a key", lineNo)
			}
			if del {
				continue
			}
			cur.values[strings.ToLower(v.Name)] = v
		}
	}
	if !header {
		return nil, errors.New("parse .reg: empty file")
	}
	return h, nil
}

// decode turns the file into text: UTF-16LE when it starts with FF FE, else
// UTF-8 (an optional BOM is dropped), else Windows-1252-ish ANSI read as
// Latin-1.
func decode(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		b = b[2:]
		if len(b)%2 != 0 {
			return "", errors.New("parse .reg: odd length for UTF-16")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), nil
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		b = b[3:]
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r), nil
}

// continues reports whether a line ending in a backslash is a hex value
// wrapped onto the next line (quoted strings never wrap).
func continues(line string) bool {
	_, rest, ok := cutName(strings.TrimSpace(line))
	return ok && strings.HasPrefix(rest, "hex")
}

// addKey creates the key at path and any missing ancestors.
func (h *Hive) addKey(path string) (*Key, error) {
	path = strings.TrimRight(path, "\\")
	if path == "" || len(path) > maxPath || strings.Count(path, "\\") > maxDepth {
		return nil, fmt.Errorf("bad key path %q", clip(path))
	}
	norm := normalize(path)
	if k := h.keys[norm]; k != nil {
		return k, nil
	}
	parts := strings.Split(path, "\\")
	if slices.Contains(parts, "") {
		return nil, fmt.Errorf("bad key path %q: empty key name", clip(path))
	}
	var parent *Key
	for i := range parts {
		p := strings.Join(parts[:i+1], "\\")
		np := normalize(p)
		k := h.keys[np]
		if k == nil {
			k = &Key{Path: p, values: make(map[string]Value), seen: make(map[string]bool)}
			h.keys[np] = k
		}
		if parent != nil && !parent.seen[strings.ToLower(parts[i])] {
			parent.seen[strings.ToLower(parts[i])] = true
			parent.subkeys = append(parent.subkeys, parts[i])
		}
		parent = k
	}
	return parent, nil
}

// normalize is the lookup form of a path: long root name, lower case, no
// trailing backslash.
func normalize(path string) string {
	path = strings.TrimRight(path, "\\")
	root, rest, _ := strings.Cut(path, "\\")
	if long, ok := roots[strings.ToUpper(root)]; ok {
		root = long
	}
	if rest == "" {
		return strings.ToLower(root)
	}
	return strings.ToLower(root + "\\" + rest)
}

// cutName splits `"name"=rest` or `@=rest`, undoing \" and \\ in the name.
func cutName(line string) (name, rest string, ok bool) {
	if strings.HasPrefix(line, "@=") {
		return "", line[2:], true
	}
	if !strings.HasPrefix(line, `"`) {
		return "", "", false
	}
	var sb strings.Builder
	for i := 1; i < len(line); i++ {
		switch c := line[i]; c {
		case '\\':
			if i+1 < len(line) {
				i++
				sb.WriteByte(line[i])
			}
		case '"':
			after := strings.TrimLeft(line[i+1:], " \t")
			if !strings.HasPrefix(after, "=") {
				return "", "", false
			}
			return sb.String(), strings.TrimLeft(after[1:], " \t"), true
		default:
			sb.WriteByte(c)
		}
	}
	return "", "", false
}

// parseValue parses one value line. del is true for "name"=- deletions.
func parseValue(line string, version5 bool) (v Value, del bool, err error) {
	name, rest, ok := cutName(line)
	if !ok {
		return v, false, fmt.Errorf("malformed value %q", clip(line))
	}
	v.Name = name
	switch {
	case rest == "-":
		return v, true, nil
	case strings.HasPrefix(rest, `"`):
		s, ok := unquote(rest)
		if !ok {
			return v, false, fmt.Errorf("value %q: bad string", clip(name))
		}
		v.Type, v.str, v.utf8 = TypeSZ, s, true
	case strings.HasPrefix(strings.ToLower(rest), "dword:"):
		n, err := strconv.ParseUint(strings.TrimSpace(rest[6:]), 16, 32)
		if err != nil {
			return v, false, fmt.Errorf("value %q: bad dword", clip(name))
		}
		v.Type, v.Data = TypeDWord, binary.LittleEndian.AppendUint32(nil, uint32(n))
	case strings.HasPrefix(strings.ToLower(rest), "hex"):
		typ, data, ok := strings.Cut(rest[3:], ":")
		if !ok {
			return v, false, fmt.Errorf("value %q: bad hex", clip(name))
		}
		v.Type = TypeBinary
		if typ != "" {
			if len(typ) < 3 || typ[0] != '(' || typ[len(typ)-1] != ')' {
				return v, false, fmt.Errorf("value %q: bad hex type", clip(name))
			}
			t, err := strconv.ParseUint(typ[1:len(typ)-1], 16, 32)
			if err != nil {
				return v, false, fmt.Errorf("value %q: bad hex type", clip(name))
			}
			v.Type = uint32(t)
		}
		if v.Data, err = parseHex(data); err != nil {
			return v, false, fmt.Errorf("value %q: %w", clip(name), err)
		}
		v.utf8 = !version5
	default:
		return v, false, fmt.Errorf("value %q: unknown data %q", clip(name), clip(rest))
	}
	return v, false, nil
}

// unquote reads a "..." string with regedit's escapes (\\ and \"). Text
// after the closing quote is an error.
func unquote(s string) (string, bool) {
	var sb strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return "", false
			}
			i++
			sb.WriteByte(s[i])
		case '"':
			return sb.String(), strings.TrimSpace(s[i+1:]) == ""
		default:
			sb.WriteByte(c)
		}
	}
	return "", false
}

// parseHex reads comma-separated hex bytes ("01,ff,00").
func parseHex(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	out := make([]byte, 0, (len(s)+1)/3)
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if len(f) == 1 {
			f = "0" + f
		}
		var b [1]byte
		if len(f) != 2 {
			return nil, fmt.Errorf("bad hex byte %q", clip(f))
		}
		if _, err := hex.Decode(b[:], []byte(f)); err != nil {
			return nil, fmt.Errorf("bad hex byte %q", clip(f))
		}
		out = append(out, b[0])
	}
	return out, nil
}

// clip bounds a piece of untrusted input quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Key returns the key at path, or nil. Paths are case-insensitive and may
// use the abbreviated roots HKLM, HKCU, HKCR, HKU and HKCC.
func (h *Hive) Key(path string) *Key {
	if h == nil {
		return nil
	}
	return h.keys[normalize(path)]
}

// String returns the string value name of the key at path; see Key.String.
func (h *Hive) String(path, name string) (string, bool) {
	return h.Key(path).String(name)
}

// DWord returns the DWORD value name of the key at path; see Key.DWord.
func (h *Hive) DWord(path, name string) (uint32, bool) {
	return h.Key(path).DWord(name)
}

// Subkeys returns the names of the subkeys of the key at path; see
// Key.Subkeys.
func (h *Hive) Subkeys(path string) []string {
	return h.Key(path).Subkeys()
}

// Value returns the named value ("" for the default value).
func (k *Key) Value(name string) (Value, bool) {
	if k == nil {
		return Value{}, false
	}
	v, ok := k.values[strings.ToLower(name)]
	return v, ok
}

// String returns a REG_SZ or REG_EXPAND_SZ value (environment references
// are not expanded), without its terminating NULs. ok is false when the
// value is absent or of another type.
func (k *Key) String(name string) (string, bool) {
	v, ok := k.Value(name)
	if !ok || (v.Type != TypeSZ && v.Type != TypeExpandSZ) {
		return "", false
	}
	if v.str != "" || v.Data == nil {
		return v.str, true
	}
	return strings.TrimRight(v.text(), "\x00"), true
}

// Strings returns a REG_MULTI_SZ value as its strings.
func (k *Key) Strings(name string) ([]string, bool) {
	v, ok := k.Value(name)
	if !ok || v.Type != TypeMultiSZ {
		return nil, false
	}
	var out []string
	for s := range strings.SplitSeq(strings.TrimRight(v.text(), "\x00"), "\x00") {
		out = append(out, s)
	}
	return out, true
}

// DWord returns a REG_DWORD value; ok is false when the value is absent or
// not four bytes of DWORD.
func (k *Key) DWord(name string) (uint32, bool) {
	v, ok := k.Value(name)
	if !ok || v.Type != TypeDWord || len(v.Data) != 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(v.Data), true
}

// Subkeys returns the names of the key's direct subkeys in file order.
func (k *Key) Subkeys() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.subkeys...)
}

// text decodes hex string data: UTF-16LE in version 5 files, bytes in
// REGEDIT4 ones.
func (v Value) text() string {
	if v.utf8 {
		return string(v.Data)
	}
	u := make([]uint16, len(v.Data)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(v.Data[2*i:])
	}
	return string(utf16.Decode(u))
}
