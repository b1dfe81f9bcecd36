// Package edid decodes the identity a display presents to the computer: the
// EDID (VESA E-EDID 1.3/1.4) base block and the list of its extension blocks.
//
// A KVM-over-IP box or an HDMI capture dongle is "the monitor" of the laptop
// it controls, and its EDID names it: PiKVM's "LNX"/"PiKVM"/"CAFEBABE",
// TC358743 bridges' "TSB"/"Toshiba-H2C", MacroSilicon dongles' "HJW"/"HDMI
// TO USB", or a copied real monitor with a fixed serial. The kvm detector
// matches these fields against the catalog.
//
// EDIDs are untrusted bytes (a KVM writes whatever it likes): Parse reads at
// most MaxSize bytes, never trusts the extension count, and cleans every
// string it returns. Anything odd is reported in EDID.Flags rather than
// refused, so that a deliberately broken EDID is still seen.
package edid

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"
)

const (
	// BlockSize is the size of the base block and of each extension block.
	BlockSize = 128
	// MaxSize is the largest EDID: the base block and 255 extensions
	// (32 KiB). Bytes beyond it are ignored and flagged "oversize".
	MaxSize = 256 * BlockSize
)

// Extension block tags (VESA E-EDID, CTA-861, DisplayID).
const (
	TagCTA       = 0x02 // CTA-861 (HDMI audio, video data blocks)
	TagVTB       = 0x10 // video timing block
	TagDI        = 0x40 // display information
	TagLS        = 0x50 // localized strings
	TagDPVL      = 0x60 // digital packet video link
	TagDisplayID = 0x70 // DisplayID
	TagBlockMap  = 0xF0 // block map (first extension of a 1.3 EDID with >1 extensions)
	TagVendor    = 0xFF // manufacturer specific
)

// Flags that Parse may set. A clean EDID has none.
const (
	FlagBadHeader       = "bad-header"             // header damaged but recognizable (≥ 6 of 8 bytes right)
	FlagBadChecksum     = "bad-checksum"           // base block checksum wrong; fields still parsed
	FlagTruncated       = "truncated"              // shorter than 128 bytes, or ends inside an extension block
	FlagExtMissing      = "extension-missing"      // fewer extension blocks present than the base block announces
	FlagExtChecksum     = "bad-extension-checksum" // an extension block's checksum wrong
	FlagTrailingData    = "trailing-data"          // more whole blocks than announced
	FlagOversize        = "oversize"               // longer than MaxSize
	FlagBadManufacturer = "bad-manufacturer"       // a PNP letter outside A-Z
	FlagControlChars    = "control-chars"          // control bytes in a descriptor string (removed)
	FlagNonASCII        = "non-ascii"              // valid UTF-8 beyond ASCII in a descriptor string (kept)
	FlagInvalidUTF8     = "invalid-utf8"           // bytes ≥ 0x80 that are not UTF-8 (replaced by U+FFFD)
	FlagDuplicate       = "duplicate-descriptor"   // a second name or serial descriptor (the first is used)
)

// ErrNoHeader is returned when b does not start with the EDID header
// 00 FF FF FF FF FF FF 00 (fewer than 6 of its 8 bytes match, the kernel's
// own threshold), or is shorter than the header.
var ErrNoHeader = errors.New("edid: no EDID header")

// ErrTruncated is returned, with the fields that could be read, when b has a
// header but is shorter than one 128-byte block.
var ErrTruncated = errors.New("edid: shorter than one 128-byte block")

// EDID is the decoded identity of one display. Strings are cleaned: no
// control characters, valid UTF-8, trimmed.
type EDID struct {
	// Manufacturer is the 3-letter PNP id ("LNX", "TSB", "DEL"). A letter
	// code outside A-Z is shown as '?' and flagged.
	Manufacturer string
	// ProductCode is the manufacturer's product code (0x7773 for PiKVM V4
	// Plus); Windows shows it in hex after the PNP id: "LNX7773".
	ProductCode uint16
	// SerialNumber is the 32-bit binary serial; 0 when unused.
	SerialNumber uint32
	// Week is the week of manufacture (1-54), 0 when unspecified or when
	// Year is a model year.
	Week int
	// Year is the year of manufacture (or model year when ModelYear);
	// 0 when the block is too short to hold it.
	Year int
	// ModelYear is true when the week byte is 0xFF: Year is a model year.
	ModelYear bool
	// Version and Revision are the EDID structure version, 1 and 3 or 4.
	Version, Revision uint8
	// Name is the first display product name descriptor (tag 0xFC).
	Name string
	// SerialString is the first display product serial descriptor (0xFF).
	SerialString string
	// Text holds the alphanumeric data string descriptors (0xFE), in order;
	// laptop panels put their vendor and part number here.
	Text []string
	// PreferredMode is the first detailed timing descriptor of the base
	// block; zero when there is none.
	PreferredMode Mode
	// Extensions is the extension count announced by the base block.
	Extensions int
	// ExtensionTags is the tag of each announced extension block that is
	// present, in order (TagCTA, TagDisplayID...).
	ExtensionTags []uint8
	// ChecksumOK is true when the base block's bytes sum to 0 mod 256.
	ChecksumOK bool
	// Flags lists what is wrong or unusual, in a fixed order, without
	// repeats (the Flag* constants).
	Flags []string
}

// Mode is a video mode from a detailed timing descriptor.
type Mode struct {
	// Width and Height are the active pixels; Height is per field for an
	// interlaced mode (as the descriptor holds it).
	Width, Height int
	// RefreshHz is pixel clock / (horizontal total × vertical total).
	RefreshHz float64
	// PixelClockKHz is the pixel clock (the descriptor's unit is 10 kHz).
	PixelClockKHz int
}

var header = [8]byte{0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}

// Parse decodes an EDID: the base block and the tags of its extension
// blocks. It parses as far as it safely can: a wrong checksum, a slightly
// damaged header, missing or extra extension blocks and odd strings are
// reported in Flags, not as errors. It fails with ErrNoHeader when b does
// not start with an EDID header, and with ErrTruncated (returning the fields
// that fit) when b is shorter than 128 bytes. Only the first MaxSize bytes
// are looked at.
//
// Cost: one pass over at most 32 KiB; a few small allocations for strings.
func Parse(b []byte) (EDID, error) {
	var e EDID
	var flags flagSet
	if len(b) > MaxSize {
		flags.add(FlagOversize)
		b = b[:MaxSize]
	}
	if len(b) < len(header) {
		return e, ErrNoHeader
	}
	switch score := headerScore(b); {
	case score < 6:
		return e, ErrNoHeader
	case score < 8:
		flags.add(FlagBadHeader)
	}
	short := len(b) < BlockSize
	have := func(end int) bool { return end <= len(b) }

	if have(10) {
		e.Manufacturer = pnpID(binary.BigEndian.Uint16(b[8:10]), &flags)
	}
	if have(12) {
		e.ProductCode = binary.LittleEndian.Uint16(b[10:12])
	}
	if have(16) {
		e.SerialNumber = binary.LittleEndian.Uint32(b[12:16])
	}
	if have(18) {
		week, year := b[16], b[17]
		e.Year = 1990 + int(year)
		switch week {
		case 0xFF:
			e.ModelYear = true
		default:
			e.Week = int(week)
		}
	}
	if have(20) {
		e.Version, e.Revision = b[18], b[19]
	}
	for i := range 4 {
		off := 54 + 18*i
		if !have(off + 18) {
			break
		}
		e.descriptor(b[off:off+18], &flags)
	}
	if short {
		flags.add(FlagTruncated)
		e.Flags = flags.list()
		return e, ErrTruncated
	}

	e.ChecksumOK = sum(b[:BlockSize]) == 0
	if !e.ChecksumOK {
		flags.add(FlagBadChecksum)
	}
	e.Extensions = int(b[126])
	rest := b[BlockSize:]
	present := len(rest) / BlockSize
	if len(rest)%BlockSize != 0 {
		flags.add(FlagTruncated)
	}
	switch {
	case present < e.Extensions:
		flags.add(FlagExtMissing)
	case present > e.Extensions:
		flags.add(FlagTrailingData)
		present = e.Extensions
	}
	if present > 0 {
		e.ExtensionTags = make([]uint8, 0, present)
	}
	for i := range present {
		blk := rest[i*BlockSize : (i+1)*BlockSize]
		e.ExtensionTags = append(e.ExtensionTags, blk[0])
		if sum(blk) != 0 {
			flags.add(FlagExtChecksum)
		}
	}
	e.Flags = flags.list()
	return e, nil
}

// Hash returns the first 16 hex digits of the SHA-256 of the base block
// (the first 128 bytes, or all of b when shorter): a short key for "the same
// monitor model and unit" that ignores extension blocks, which some OSes
// drop or rewrite.
func Hash(b []byte) string {
	if len(b) > BlockSize {
		b = b[:BlockSize]
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// PNPCode returns the Windows hardware id form of the display model:
// manufacturer and product code in hex, "LNX7773", "DELA0F5"; the key name
// under Enum\DISPLAY.
func (e EDID) PNPCode() string {
	const digits = "0123456789ABCDEF"
	p := e.ProductCode
	return e.Manufacturer + string([]byte{digits[p>>12], digits[p>>8&0xF], digits[p>>4&0xF], digits[p&0xF]})
}

// HasFlag reports whether Parse set flag.
func (e EDID) HasFlag(flag string) bool {
	for _, f := range e.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

func headerScore(b []byte) int {
	n := 0
	for i, h := range header {
		if b[i] == h {
			n++
		}
	}
	return n
}

func sum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// pnpID decodes the three 5-bit letters ('A' = 1) of the manufacturer id.
func pnpID(v uint16, flags *flagSet) string {
	var id [3]byte
	for i := range 3 {
		c := v >> (10 - 5*i) & 0x1F
		if c < 1 || c > 26 {
			id[i] = '?'
			flags.add(FlagBadManufacturer)
			continue
		}
		id[i] = 'A' + byte(c) - 1
	}
	return string(id[:])
}

// descriptor decodes one 18-byte descriptor of the base block: a detailed
// timing when its pixel clock is non-zero, else a display descriptor.
func (e *EDID) descriptor(d []byte, flags *flagSet) {
	if clock := binary.LittleEndian.Uint16(d[0:2]); clock != 0 {
		if e.PreferredMode == (Mode{}) {
			e.PreferredMode = detailedTiming(d)
		}
		return
	}
	switch d[3] {
	case 0xFC:
		s := text(d[5:], flags)
		if e.Name == "" {
			e.Name = s
		} else {
			flags.add(FlagDuplicate)
		}
	case 0xFF:
		s := text(d[5:], flags)
		if e.SerialString == "" {
			e.SerialString = s
		} else {
			flags.add(FlagDuplicate)
		}
	case 0xFE:
		e.Text = append(e.Text, text(d[5:], flags))
	}
}

// detailedTiming decodes an 18-byte detailed timing descriptor.
func detailedTiming(d []byte) Mode {
	clock := int(binary.LittleEndian.Uint16(d[0:2])) * 10 // kHz
	hActive := int(d[2]) | int(d[4]>>4)<<8
	hBlank := int(d[3]) | int(d[4]&0xF)<<8
	vActive := int(d[5]) | int(d[7]>>4)<<8
	vBlank := int(d[6]) | int(d[7]&0xF)<<8
	m := Mode{Width: hActive, Height: vActive, PixelClockKHz: clock}
	if total := (hActive + hBlank) * (vActive + vBlank); total > 0 {
		m.RefreshHz = float64(clock) * 1000 / float64(total)
	}
	return m
}

// text decodes the 13-byte string of a display descriptor: ends at the
// first 0x0A, trailing spaces and NULs are padding. Control bytes are
// removed, invalid UTF-8 is replaced, each flagged.
func text(b []byte, flags *flagSet) string {
	if i := bytes.IndexByte(b, 0x0A); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimRight(b, " \x00")
	var sb strings.Builder
	for len(b) > 0 {
		c := b[0]
		if c < 0x80 {
			if c < 0x20 || c == 0x7F {
				flags.add(FlagControlChars)
			} else {
				sb.WriteByte(c)
			}
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			flags.add(FlagInvalidUTF8)
			sb.WriteRune(utf8.RuneError)
		case r < 0xA0 || r == 0xAD || (r >= 0x2028 && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0xFEFF:
			// C1 controls, soft hyphen, line separators and bidi
			// overrides would mislead a reader of the console.
			flags.add(FlagControlChars)
		default:
			flags.add(FlagNonASCII)
			sb.WriteRune(r)
		}
		b = b[n:]
	}
	return strings.TrimSpace(sb.String())
}

// flagSet collects flags once each, reporting them in the order of
// flagOrder.
type flagSet uint32

var flagOrder = []string{
	FlagBadHeader, FlagBadChecksum, FlagTruncated, FlagExtMissing, FlagExtChecksum,
	FlagTrailingData, FlagOversize, FlagBadManufacturer, FlagControlChars, FlagNonASCII,
	FlagInvalidUTF8, FlagDuplicate,
}

func (s *flagSet) add(flag string) {
	for i, f := range flagOrder {
		if f == flag {
			*s |= 1 << i
			return
		}
	}
	panic("edid: unknown flag " + flag)
}

func (s flagSet) list() []string {
	if s == 0 {
		return nil
	}
	var out []string
	for i, f := range flagOrder {
		if s&(1<<i) != 0 {
			out = append(out, f)
		}
	}
	return out
}
