// Package hid parses USB HID report descriptors: the byte program in which a
// keyboard, mouse or touchscreen tells the host what its reports contain.
//
// The KVM detector uses it to see structure that survives a changed USB
// identity: a "mouse" whose X and Y are absolute in 0..32767 is what a
// KVM-over-IP box emulates, not what a person's mouse or touchpad sends.
// Descriptors come from the device and are untrusted; Parse never panics,
// never allocates more than a fixed multiple of its input, and flags what it
// had to skip.
package hid

import (
	"crypto/sha256"
	"encoding/hex"
)

// Descriptor is a parsed report descriptor.
type Descriptor struct {
	// Collections lists every collection in the order its Collection item
	// appears (pre-order), nested ones included; Depth says how deep each is.
	Collections []Collection
	// Flags name what was wrong with the bytes, in order of first
	// occurrence, each once: "truncated" (an item runs past the end),
	// "unbalanced-collections" (an End Collection without a Collection, or
	// collections still open at the end), "bad-item" (reserved item types or
	// tags, Pop without Push, a main item outside any collection, a report
	// size over 256 bits or count over 12288 as Linux rejects them),
	// "long-item" (a 0xFE long item, skipped), "too-many-usages" (usage
	// ranges expanded past MaxUsages), "too-big" (input over MaxDescriptor
	// bytes, parsed up to that point).
	Flags []string
}

// Collection is one Collection ... End Collection block.
type Collection struct {
	// UsagePage and Usage are the collection's usage: 0x01/0x02 is a Generic
	// Desktop Mouse, 0x01/0x06 a Keyboard, 0x0D/0x04 a Touch Screen.
	UsagePage, Usage uint16
	// Kind is "physical", "application", "logical", "report",
	// "named-array", "usage-switch", "usage-modifier", or "vendor-XX" /
	// "reserved-XX" with the hex value.
	Kind string
	// Depth is 0 for a top-level collection, 1 for one inside it, and so on.
	Depth int
	// Fields are the Input, Output and Feature items directly inside this
	// collection (not those of nested collections).
	Fields []Field
	// ReportIDs are the distinct report IDs of Fields, in order of first use;
	// empty when the device uses no report IDs.
	ReportIDs []uint8
}

// Field is one Input, Output or Feature main item with the global and local
// state in force when it was read.
type Field struct {
	// UsagePage is the global Usage Page when the item was read.
	UsagePage uint16
	// Usages are 32-bit extended usages, page<<16 | id, as the Linux kernel
	// stores them: 0x00010030 is Generic Desktop X, 0x00070004 Keyboard a.
	// Usage Minimum..Maximum ranges are expanded (see MaxUsages).
	Usages []uint32
	// LogicalMin and LogicalMax are the value range. As in Linux, the
	// maximum is read unsigned when the minimum is not negative, so
	// "15 00 25 E7" is 0..231.
	LogicalMin, LogicalMax int32
	// ReportSize is in bits, ReportCount the number of values.
	ReportSize, ReportCount uint32
	// Exactly one of Input, Output, Feature is true.
	Input, Output, Feature bool
	// Absolute, Variable and Constant decode bits 2, 1 and 0 of the item's
	// data (Absolute is the Relative bit clear).
	Absolute, Variable, Constant bool
	// ReportID is the global Report ID, 0 when none was declared.
	ReportID uint8
}

// Limits on what Parse keeps from untrusted bytes.
const (
	// MaxDescriptor is the longest descriptor Parse reads. Linux refuses
	// descriptors over 4096 bytes (HID_MAX_DESCRIPTOR_SIZE); the margin
	// keeps captured oddities readable.
	MaxDescriptor = 16 << 10
	// MaxUsages bounds the usages kept over the whole descriptor, so a
	// range such as 0..0xFFFF costs at most this many entries.
	MaxUsages = 8192
)

// Hash is the first 16 hex digits of the SHA-256 of b: the fingerprint used
// in research/hardware.md §1.3 and in the catalog.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
