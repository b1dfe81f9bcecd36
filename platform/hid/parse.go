package hid

import (
	"errors"
	"fmt"
)

// Item types and tags of the HID 1.11 specification, §6.2.2.
const (
	typeMain   = 0
	typeGlobal = 1
	typeLocal  = 2

	mainInput         = 0x8
	mainOutput        = 0x9
	mainCollection    = 0xA
	mainFeature       = 0xB
	mainEndCollection = 0xC

	globalUsagePage   = 0x0
	globalLogicalMin  = 0x1
	globalLogicalMax  = 0x2
	globalPhysicalMin = 0x3
	globalPhysicalMax = 0x4
	globalUnitExp     = 0x5
	globalUnit        = 0x6
	globalReportSize  = 0x7
	globalReportID    = 0x8
	globalReportCount = 0x9
	globalPush        = 0xA
	globalPop         = 0xB

	localUsage    = 0x0
	localUsageMin = 0x1
	localUsageMax = 0x2
	// 0x3..0xA: designator, string and delimiter items; read and ignored.
	localLast = 0xA

	longItemPrefix = 0xFE
)

// Limits Linux enforces (drivers/hid/hid-core.c) beyond which a field is
// flagged "bad-item"; the values are still recorded.
const (
	maxReportSize  = 256
	maxReportCount = 12288
	// maxStack bounds Push nesting, maxDepth collection nesting.
	maxStack = 16
	maxDepth = 64
)

var collectionKinds = [...]string{"physical", "application", "logical", "report", "named-array", "usage-switch", "usage-modifier"}

// ErrEmpty is returned by Parse when the bytes hold no collection and no field.
var ErrEmpty = errors.New("hid: no usable report descriptor items")

type globals struct {
	usagePage              uint16
	logicalMin, logicalMax int32
	logicalMaxRaw          uint32
	logicalMaxSize         int
	reportSize             uint32
	reportCount            uint32
	reportID               uint8
}

type usage struct {
	value    uint32
	extended bool // given as a 4-byte usage with its own page
}

type parser struct {
	d      Descriptor
	g      globals
	stack  []globals
	usages []usage
	uMin   uint32
	uMinOK bool
	open   []int // indexes into d.Collections of the open collections
	kept   int   // usages kept over the whole descriptor
	flags  map[string]bool
}

// Parse decodes a report descriptor as far as it is safe to. Short items are
// decoded; long items are skipped; an item that runs past the end stops the
// parse with "truncated". Everything read before a problem is kept and the
// problem named in Flags. The error is ErrEmpty when nothing usable was read.
//
// Cost: one pass over at most MaxDescriptor bytes; the result holds at most
// one Field per byte and MaxUsages usages.
func Parse(b []byte) (Descriptor, error) {
	p := parser{flags: map[string]bool{}}
	if len(b) > MaxDescriptor {
		b = b[:MaxDescriptor]
		p.flag("too-big")
	}
	for i := 0; i < len(b); {
		prefix := b[i]
		if prefix == longItemPrefix {
			// bDataSize, bLongItemTag, data.
			if i+2 >= len(b) || i+3+int(b[i+1]) > len(b) {
				p.flag("truncated")
				break
			}
			p.flag("long-item")
			i += 3 + int(b[i+1])
			continue
		}
		size := int(prefix & 3)
		if size == 3 {
			size = 4
		}
		if i+1+size > len(b) {
			p.flag("truncated")
			break
		}
		data := b[i+1 : i+1+size]
		i += 1 + size
		typ, tag := (prefix>>2)&3, prefix>>4
		switch typ {
		case typeMain:
			p.main(tag, udata(data))
		case typeGlobal:
			p.global(tag, data)
		case typeLocal:
			p.local(tag, data)
		default:
			p.flag("bad-item")
		}
	}
	if len(p.open) > 0 {
		p.flag("unbalanced-collections")
	}
	if len(p.d.Collections) == 0 {
		return p.d, fmt.Errorf("%w (flags %v)", ErrEmpty, p.d.Flags)
	}
	return p.d, nil
}

func (p *parser) flag(f string) {
	if !p.flags[f] {
		p.flags[f] = true
		p.d.Flags = append(p.d.Flags, f)
	}
}

func udata(b []byte) uint32 {
	var v uint32
	for i, c := range b {
		v |= uint32(c) << (8 * i)
	}
	return v
}

func sdata(b []byte) int32 {
	switch len(b) {
	case 1:
		return int32(int8(b[0]))
	case 2:
		return int32(int16(udata(b)))
	case 4:
		return int32(udata(b))
	}
	return 0
}

func (p *parser) main(tag byte, data uint32) {
	switch tag {
	case mainCollection:
		p.completeUsages()
		c := Collection{UsagePage: p.g.usagePage, Kind: collectionKind(uint8(data)), Depth: len(p.open)}
		if len(p.usages) > 0 {
			u := p.usages[0].value
			c.UsagePage, c.Usage = uint16(u>>16), uint16(u)
		}
		if len(p.open) >= maxDepth {
			p.flag("bad-item")
		} else {
			p.d.Collections = append(p.d.Collections, c)
			p.open = append(p.open, len(p.d.Collections)-1)
		}
	case mainEndCollection:
		if len(p.open) == 0 {
			p.flag("unbalanced-collections")
		} else {
			p.open = p.open[:len(p.open)-1]
		}
	case mainInput, mainOutput, mainFeature:
		p.completeUsages()
		p.field(tag, data)
	default:
		p.flag("bad-item")
	}
	p.resetLocal()
}

func collectionKind(v uint8) string {
	switch {
	case int(v) < len(collectionKinds):
		return collectionKinds[v]
	case v >= 0x80:
		return fmt.Sprintf("vendor-%02x", v)
	}
	return fmt.Sprintf("reserved-%02x", v)
}

func (p *parser) field(tag byte, data uint32) {
	f := Field{
		UsagePage:   p.g.usagePage,
		LogicalMin:  p.g.logicalMin,
		LogicalMax:  p.g.logicalMax,
		ReportSize:  p.g.reportSize,
		ReportCount: p.g.reportCount,
		Input:       tag == mainInput,
		Output:      tag == mainOutput,
		Feature:     tag == mainFeature,
		Constant:    data&1 != 0,
		Variable:    data&2 != 0,
		Absolute:    data&4 == 0,
		ReportID:    p.g.reportID,
	}
	if f.ReportSize > maxReportSize || f.ReportCount > maxReportCount {
		p.flag("bad-item")
	}
	for _, u := range p.usages {
		f.Usages = append(f.Usages, u.value)
	}
	if len(p.open) == 0 {
		// A field outside any collection: keep it in a synthetic top-level
		// collection so nothing read is lost.
		p.flag("bad-item")
		p.d.Collections = append(p.d.Collections, Collection{Kind: "none"})
		p.open = append(p.open, len(p.d.Collections)-1)
		defer func() { p.open = p.open[:0] }()
	}
	c := &p.d.Collections[p.open[len(p.open)-1]]
	c.Fields = append(c.Fields, f)
	if f.ReportID != 0 && !containsID(c.ReportIDs, f.ReportID) {
		c.ReportIDs = append(c.ReportIDs, f.ReportID)
	}
}

func containsID(ids []uint8, id uint8) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (p *parser) global(tag byte, data []byte) {
	switch tag {
	case globalUsagePage:
		p.g.usagePage = uint16(udata(data))
	case globalLogicalMin:
		p.g.logicalMin = sdata(data)
		p.fixLogicalMax()
	case globalLogicalMax:
		p.g.logicalMaxRaw, p.g.logicalMaxSize = udata(data), len(data)
		p.fixLogicalMax()
	case globalPhysicalMin, globalPhysicalMax, globalUnitExp, globalUnit:
		// Not needed for classification.
	case globalReportSize:
		p.g.reportSize = udata(data)
	case globalReportID:
		id := udata(data)
		if id == 0 || id > 255 {
			p.flag("bad-item")
		}
		p.g.reportID = uint8(id)
	case globalReportCount:
		p.g.reportCount = udata(data)
	case globalPush:
		if len(p.stack) >= maxStack {
			p.flag("bad-item")
			return
		}
		p.stack = append(p.stack, p.g)
	case globalPop:
		if len(p.stack) == 0 {
			p.flag("bad-item")
			return
		}
		p.g = p.stack[len(p.stack)-1]
		p.stack = p.stack[:len(p.stack)-1]
	default:
		p.flag("bad-item")
	}
}

// fixLogicalMax reads the maximum signed only when the minimum is negative,
// as Linux does, whichever of the two items came first.
func (p *parser) fixLogicalMax() {
	if p.g.logicalMin < 0 {
		b := []byte{byte(p.g.logicalMaxRaw), byte(p.g.logicalMaxRaw >> 8), byte(p.g.logicalMaxRaw >> 16), byte(p.g.logicalMaxRaw >> 24)}
		p.g.logicalMax = sdata(b[:p.g.logicalMaxSize])
		return
	}
	p.g.logicalMax = int32(p.g.logicalMaxRaw)
}

func (p *parser) local(tag byte, data []byte) {
	switch tag {
	case localUsage:
		p.addUsage(p.extend(data), len(data) == 4)
	case localUsageMin:
		p.uMin, p.uMinOK = p.extend(data), true
	case localUsageMax:
		max := p.extend(data)
		if !p.uMinOK || max < p.uMin || max>>16 != p.uMin>>16 {
			p.flag("bad-item")
			p.uMinOK = false
			return
		}
		for u := p.uMin; ; u++ {
			if !p.addUsage(u, len(data) == 4) || u == max {
				break
			}
		}
		p.uMinOK = false
	default:
		if tag > localLast {
			p.flag("bad-item")
		}
	}
}

// extend makes a 32-bit usage: 4-byte data carries its own page, shorter
// data takes the current Usage Page.
func (p *parser) extend(data []byte) uint32 {
	v := udata(data)
	if len(data) == 4 {
		return v
	}
	return uint32(p.g.usagePage)<<16 | v&0xFFFF
}

func (p *parser) addUsage(v uint32, extended bool) bool {
	if p.kept >= MaxUsages {
		p.flag("too-many-usages")
		return false
	}
	p.kept++
	p.usages = append(p.usages, usage{value: v, extended: extended})
	return true
}

// completeUsages re-pages the trailing short usages with the Usage Page in
// force at the main item, for descriptors that declare the page after the
// usages (hid-core.c hid_concatenate_last_usage_page).
func (p *parser) completeUsages() {
	page := uint32(p.g.usagePage)
	for i := len(p.usages) - 1; i >= 0; i-- {
		u := &p.usages[i]
		if u.extended {
			continue
		}
		if u.value>>16 == page {
			break
		}
		u.value = page<<16 | u.value&0xFFFF
	}
}

func (p *parser) resetLocal() {
	p.usages = p.usages[:0]
	p.uMinOK = false
}
