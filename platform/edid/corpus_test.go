package edid

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// The corpus in testdata/*.bin is built by this file. Regenerate with
//
//	go test ./platform/edid -run TestCorpusFresh -update
//
// The identity fields (PNP id, product code, 32-bit serial, week/year, name
// and serial descriptors) are the ones shared/research/hardware.md §1.5
// decoded from each project's source. The rest of each block is a
// plausible reconstruction, not a byte copy: a 1920x1080@60 CEA timing
// (148.5 MHz), sRGB chromaticity, the usual established and standard
// timings, a range-limits descriptor and, for the PiKVM and TC358743
// families (whose sources ship 256-byte EDIDs with HDMI audio), a CTA-861
// extension. The benign displays are illustrative models, not captures.
var update = flag.Bool("update", false, "rewrite testdata/*.bin from the corpus specs")

// spec describes one corpus EDID.
type spec struct {
	file         string
	mfg          string
	product      uint16
	serial       uint32
	week, year   int // week 0xFF: model year
	rev          uint8
	name, serStr string
	text         []string
	mode         timing
	cta          bool
	size         [2]byte // cm
	rangeLimits  []byte  // 9 bytes after the 0xFD tag's reserved byte, or nil
}

// timing is a detailed timing: active, front porch, sync, back porch.
type timing struct {
	clockKHz                      int
	hActive, hFront, hSync, hBack int
	vActive, vFront, vSync, vBack int
	hPos, vPos                    bool
}

var (
	cea1080p60 = timing{148500, 1920, 88, 44, 148, 1080, 4, 5, 36, true, true}
	// CVT reduced blanking, the usual laptop-panel and DisplayPort modes.
	cvtRB1080p60 = timing{138500, 1920, 48, 32, 80, 1080, 3, 5, 23, true, false}
	cvtRB1440p60 = timing{241500, 2560, 48, 32, 80, 1440, 3, 5, 33, true, false}
	cvtRB2160p60 = timing{533250, 3840, 48, 32, 80, 2160, 3, 5, 54, true, false}

	hdmiRange = []byte{0x32, 0x4B, 0x1E, 0x53, 0x11, 0x00, 0x0A, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20}
)

var corpus = []spec{
	// KVM and capture identities, hardware.md §1.5.
	{file: "pikvm-v0-v2.bin", mfg: "LNX", product: 0x7770, serial: 0x01010101, week: 35, year: 2016, rev: 3, name: "PiKVM", serStr: "CAFEBABE", mode: cea1080p60, cta: true},
	{file: "pikvm-v3.bin", mfg: "LNX", product: 0x7771, serial: 0x01010101, week: 35, year: 2016, rev: 3, name: "PiKVM V3", serStr: "CAFEBABE", mode: cea1080p60, cta: true},
	{file: "pikvm-v4mini.bin", mfg: "LNX", product: 0x7772, serial: 0x01010101, week: 35, year: 2016, rev: 3, name: "PiKVM V4 Mini", serStr: "CAFEBABE", mode: cea1080p60, cta: true},
	{file: "pikvm-v4plus.bin", mfg: "LNX", product: 0x7773, serial: 0x01010101, week: 35, year: 2016, rev: 3, name: "PiKVM V4 Plus", serStr: "CAFEBABE", mode: cea1080p60, cta: true},
	{file: "pikvm-2022.bin", mfg: "LNX", product: 0x8888, serial: 0x88888800, week: 28, year: 2011, rev: 3, name: "PiKVM", mode: cea1080p60, cta: true},
	// TC358743 default; BliKVM's own firmware ships the same identity.
	{file: "tc358743-toshiba-h2c.bin", mfg: "TSB", product: 0x8888, serial: 0x88888800, week: 28, year: 2011, rev: 3, name: "Toshiba-H2C", mode: cea1080p60, cta: true},
	{file: "tinypilot.bin", mfg: "TSB", product: 0x9876, serial: 0x88888800, week: 45, year: 2020, rev: 3, name: "TinyPilot", mode: cea1080p60, cta: true},
	// JetKVM default: 128 bytes, no extension (research).
	{file: "jetkvm-default.bin", mfg: "TSB", product: 0x8801, serial: 0x88888800, week: 28, year: 2011, rev: 3, name: "T749-fHD720", mode: cea1080p60},
	{file: "jetkvm-acer-b246wl.bin", mfg: "ACR", product: 0x0565, serial: 0x01613F8A, week: 16, year: 2020, rev: 3, name: "B246WL", serStr: "T8NEE0038522", mode: cea1080p60, size: [2]byte{53, 30}},
	{file: "jetkvm-asus-pa248qv.bin", mfg: "AUS", product: 0x2487, serial: 0x01010101, week: 2, year: 2021, rev: 3, name: "PA248QV", serStr: "M1LMQS052157", mode: cea1080p60, size: [2]byte{52, 32}},
	{file: "jetkvm-dell-d2721h.bin", mfg: "DEL", product: 0x2013, serial: 0x39363945, week: 32, year: 2020, rev: 3, name: "DELL D2721H", serStr: "3S5GQ23", mode: cea1080p60, size: [2]byte{60, 34}},
	{file: "nanokvm-phl-342e2.bin", mfg: "PHL", product: 0xC233, serial: 0x0000BA66, week: 43, year: 2021, rev: 3, name: "PHL 342E2", serStr: "UK02143047718", mode: cea1080p60, size: [2]byte{80, 34}},
	{file: "nanokvm-spd-template.bin", mfg: "SPD", product: 0x3301, serial: 0x00000015, week: 30, year: 2025, rev: 3, name: "NanoKVM", serStr: "NanoKVM", mode: cea1080p60},
	{file: "ms2109.bin", mfg: "HJW", product: 0x0001, serial: 0x00000001, week: 1, year: 2019, rev: 3, name: "HDMI TO USB", mode: cea1080p60},
	{file: "ms2130.bin", mfg: "HJW", product: 0x2130, serial: 0x0134660A, week: 49, year: 2021, rev: 3, name: "HDMI TO USB", mode: cea1080p60},

	// Benign, illustrative: an eDP laptop panel (no name, no serial
	// string: vendor and part number as text), a 4K office monitor with a
	// serial, an Apple display with a model year.
	{file: "benign-boe-edp-panel.bin", mfg: "BOE", product: 0x0974, week: 0, year: 2021, rev: 4, text: []string{"BOE CQ", "NV156FHM-N48"}, mode: cvtRB1080p60, size: [2]byte{34, 19}},
	{file: "benign-dell-u2720q.bin", mfg: "DEL", product: 0xA13F, serial: 0x4C4C4A42, week: 12, year: 2021, rev: 4, name: "DELL U2720Q", serStr: "6JDWF93", mode: cvtRB2160p60, cta: true, size: [2]byte{60, 34},
		rangeLimits: []byte{0x18, 0x4B, 0x1E, 0x8C, 0x36, 0x00, 0x0A, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20}},
	{file: "benign-apple-thunderbolt.bin", mfg: "APP", product: 0x9227, serial: 0x0243A1B5, week: 0xFF, year: 2012, rev: 4, name: "Thunderbolt", mode: cvtRB1440p60, size: [2]byte{60, 34},
		rangeLimits: []byte{0x38, 0x4C, 0x1E, 0x5A, 0x19, 0x00, 0x0A, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20}},
}

// build returns the EDID bytes of s: one block, or two with a CTA-861
// extension, each with its checksum.
func (s spec) build() []byte {
	b := make([]byte, BlockSize)
	copy(b, header[:])
	m := s.mfg
	binary.BigEndian.PutUint16(b[8:], uint16(m[0]-'A'+1)<<10|uint16(m[1]-'A'+1)<<5|uint16(m[2]-'A'+1))
	binary.LittleEndian.PutUint16(b[10:], s.product)
	binary.LittleEndian.PutUint32(b[12:], s.serial)
	b[16], b[17] = byte(s.week), byte(s.year-1990)
	b[18], b[19] = 1, s.rev
	b[20] = 0x80 // digital input
	if s.rev >= 4 {
		b[20] = 0xA5 // digital, 8 bits per colour, DisplayPort
	}
	b[21], b[22] = s.size[0], s.size[1]
	b[23] = 0x78                                                                       // gamma 2.2
	b[24] = 0x0E                                                                       // RGB 4:4:4, sRGB, preferred timing in DTD 1
	copy(b[25:35], []byte{0xEE, 0x91, 0xA3, 0x54, 0x4C, 0x99, 0x26, 0x0F, 0x50, 0x54}) // sRGB primaries
	b[35], b[36], b[37] = 0x21, 0x08, 0x00                                             // 640x480@60, 800x600@60, 1024x768@60
	std := []byte{0x81, 0xC0, 0xD1, 0xC0}                                              // 1280x720@60, 1920x1080@60
	copy(b[38:54], append(std, bytes.Repeat([]byte{0x01}, 12)...))

	var descs [][]byte
	descs = append(descs, s.mode.descriptor(s.size))
	if s.serStr != "" {
		descs = append(descs, textDescriptor(0xFF, s.serStr))
	}
	for _, t := range s.text {
		descs = append(descs, textDescriptor(0xFE, t))
	}
	if s.name != "" {
		descs = append(descs, textDescriptor(0xFC, s.name))
	}
	if len(descs) < 4 {
		r := s.rangeLimits
		if r == nil {
			r = hdmiRange
		}
		r = append([]byte(nil), r...)
		if s.rev >= 4 {
			r[5] = 0x01 // range limits only: GTF is deprecated in 1.4
		}
		descs = append(descs, append([]byte{0, 0, 0, 0xFD, 0}, r...))
	}
	for len(descs) < 4 {
		descs = append(descs, []byte{0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // dummy
	}
	for i, d := range descs {
		copy(b[54+18*i:], d)
	}
	if s.cta {
		b[126] = 1
	}
	b[127] = checksum(b)
	if s.cta {
		b = append(b, ctaBlock(s.mode, s.size)...)
	}
	return b
}

func checksum(b []byte) byte { return -sum(b[:BlockSize-1]) }

// descriptor encodes t as an 18-byte detailed timing descriptor; the image
// size is the display size (cm), 0 for a KVM's "variable" size.
func (t timing) descriptor(size [2]byte) []byte {
	d := make([]byte, 18)
	binary.LittleEndian.PutUint16(d, uint16(t.clockKHz/10))
	hBlank := t.hFront + t.hSync + t.hBack
	vBlank := t.vFront + t.vSync + t.vBack
	d[2], d[3], d[4] = byte(t.hActive), byte(hBlank), byte(t.hActive>>8<<4|hBlank>>8)
	d[5], d[6], d[7] = byte(t.vActive), byte(vBlank), byte(t.vActive>>8<<4|vBlank>>8)
	d[8], d[9] = byte(t.hFront), byte(t.hSync)
	d[10] = byte(t.vFront&0xF<<4 | t.vSync&0xF)
	d[11] = byte(t.hFront>>8<<6 | t.hSync>>8<<4 | t.vFront>>4<<2 | t.vSync>>4)
	w, h := int(size[0])*10, int(size[1])*10
	d[12], d[13], d[14] = byte(w), byte(h), byte(w>>8<<4|h>>8)
	d[17] = 0x18 // digital separate sync
	if t.hPos {
		d[17] |= 0x02
	}
	if t.vPos {
		d[17] |= 0x04
	}
	return d
}

// textDescriptor encodes a display descriptor string: up to 13 bytes,
// ended by 0x0A and padded with spaces.
func textDescriptor(tag byte, s string) []byte {
	d := append([]byte{0, 0, 0, tag, 0}, s...)
	if len(d) < 18 {
		d = append(d, 0x0A)
	}
	for len(d) < 18 {
		d = append(d, 0x20)
	}
	return d[:18]
}

// ctaBlock is a CTA-861-G extension of an HDMI sink: video (1080p60, 720p60, 480p, 1080p50, 720p50, 576p), basic audio (LPCM 2ch),
// speakers, the HDMI vendor block with physical address 1.0.0.0, video
// capabilities, and the
// preferred timing again.
func ctaBlock(t timing, size [2]byte) []byte {
	blocks := []byte{
		0x40 | 9, 0x10, 0x04, 0x03, 0x02, 0x1F, 0x13, 0x11, 0x12, 0x01,
		0x20 | 3, 0x09, 0x07, 0x07,
		0x80 | 3, 0x01, 0x00, 0x00,
		0x60 | 5, 0x03, 0x0C, 0x00, 0x10, 0x00,
		0xE0 | 2, 0x00, 0x40, // video capability: selectable RGB quantization
	}
	b := make([]byte, BlockSize)
	b[0], b[1], b[2], b[3] = TagCTA, 3, byte(4+len(blocks)), 0xF1 // underscan, audio, YCbCr 4:4:4 and 4:2:2, 1 native DTD
	copy(b[4:], blocks)
	copy(b[4+len(blocks):], t.descriptor(size))
	b[127] = checksum(b)
	return b
}

// TestCorpusFresh pins testdata/*.bin to the specs above (and writes them
// with -update), so the committed bytes are reproducible.
func TestCorpusFresh(t *testing.T) {
	for _, s := range corpus {
		path := filepath.Join("testdata", s.file)
		want := s.build()
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its spec; run go test -run TestCorpusFresh -update", path)
		}
	}
}
