package edid

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readCorpus(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var mode1080p60 = Mode{Width: 1920, Height: 1080, RefreshHz: 60, PixelClockKHz: 148500}

func TestParseCorpus(t *testing.T) {
	cta := []uint8{TagCTA}
	tests := []struct {
		file string
		want EDID
	}{
		{"pikvm-v0-v2.bin", EDID{Manufacturer: "LNX", ProductCode: 0x7770, SerialNumber: 0x01010101, Week: 35, Year: 2016, Version: 1, Revision: 3,
			Name: "PiKVM", SerialString: "CAFEBABE", PreferredMode: mode1080p60, Extensions: 1, ExtensionTags: cta, ChecksumOK: true}},
		{"pikvm-v3.bin", EDID{Manufacturer: "LNX", ProductCode: 0x7771, SerialNumber: 0x01010101, Week: 35, Year: 2016, Version: 1, Revision: 3,
			Name: "PiKVM V3", SerialString: "CAFEBABE", PreferredMode: mode1080p60, Extensions: 1, ExtensionTags: cta, ChecksumOK: true}},
		// 13-character names fill the descriptor: no 0x0A terminator.
		{"pikvm-v4mini.bin", EDID{Manufacturer: "LNX", ProductCode: 0x7772, SerialNumber: 0x01010101, Week: 35, Year: 2016, Version: 1, Revision: 3,
			Name: "PiKVM V4 Mini", SerialString: "CAFEBABE", PreferredMode: mode1080p60, Extensions: 1, ExtensionTags: cta, ChecksumOK: true}},
		{"pikvm-v4plus.bin", EDID{Manufacturer: "LNX", ProductCode: 0x7773, SerialNumber: 0x01010101, Week: 35, Year: 2016, Version: 1, Revision: 3,
			Name: "PiKVM V4 Plus", SerialString: "CAFEBABE", PreferredMode: mode1080p60, Extensions: 1, ExtensionTags: cta, ChecksumOK: true}},
		{"pikvm-2022.bin", EDID{Manufacturer: "LNX", ProductCode: 0x8888, SerialNumber: 0x88888800, Week: 28, Year: 2011, Version: 1, Revision: 3,
			Name: "PiKVM", PreferredMode: mode1080p60, Extensions: 1, ExtensionTags: cta, ChecksumOK: true}},
		{"tc358743-toshiba-h2c.bin", EDID{Manufacturer: "TSB", ProductCode: 0x8888, SerialNumber: 0x88888800, Week: 28, Year: 2011, Version: 1, Revision: 3,
			Name: "Toshiba-H2C", PreferredMode: mode1080p60, Extensions: 1, ExtensionTags: cta, ChecksumOK: true}},
		{"tinypilot.bin", EDID{Manufacturer: "TSB", ProductCode: 0x9876, SerialNumber: 0x88888800, Week: 45, Year: 2020, Version: 1, Revision: 3,
			Name: "TinyPilot", PreferredMode: mode1080p60, Extensions: 1, ExtensionTags: cta, ChecksumOK: true}},
		{"jetkvm-default.bin", EDID{Manufacturer: "TSB", ProductCode: 0x8801, SerialNumber: 0x88888800, Week: 28, Year: 2011, Version: 1, Revision: 3,
			Name: "T749-fHD720", PreferredMode: mode1080p60, ChecksumOK: true}},
		{"jetkvm-acer-b246wl.bin", EDID{Manufacturer: "ACR", ProductCode: 0x0565, SerialNumber: 0x01613F8A, Week: 16, Year: 2020, Version: 1, Revision: 3,
			Name: "B246WL", SerialString: "T8NEE0038522", PreferredMode: mode1080p60, ChecksumOK: true}},
		{"jetkvm-asus-pa248qv.bin", EDID{Manufacturer: "AUS", ProductCode: 0x2487, SerialNumber: 0x01010101, Week: 2, Year: 2021, Version: 1, Revision: 3,
			Name: "PA248QV", SerialString: "M1LMQS052157", PreferredMode: mode1080p60, ChecksumOK: true}},
		{"jetkvm-dell-d2721h.bin", EDID{Manufacturer: "DEL", ProductCode: 0x2013, SerialNumber: 0x39363945, Week: 32, Year: 2020, Version: 1, Revision: 3,
			Name: "DELL D2721H", SerialString: "3S5GQ23", PreferredMode: mode1080p60, ChecksumOK: true}},
		{"nanokvm-phl-342e2.bin", EDID{Manufacturer: "PHL", ProductCode: 0xC233, SerialNumber: 0x0000BA66, Week: 43, Year: 2021, Version: 1, Revision: 3,
			Name: "PHL 342E2", SerialString: "UK02143047718", PreferredMode: mode1080p60, ChecksumOK: true}},
		{"nanokvm-spd-template.bin", EDID{Manufacturer: "SPD", ProductCode: 0x3301, SerialNumber: 0x15, Week: 30, Year: 2025, Version: 1, Revision: 3,
			Name: "NanoKVM", SerialString: "NanoKVM", PreferredMode: mode1080p60, ChecksumOK: true}},
		{"ms2109.bin", EDID{Manufacturer: "HJW", ProductCode: 0x0001, SerialNumber: 1, Week: 1, Year: 2019, Version: 1, Revision: 3,
			Name: "HDMI TO USB", PreferredMode: mode1080p60, ChecksumOK: true}},
		{"ms2130.bin", EDID{Manufacturer: "HJW", ProductCode: 0x2130, SerialNumber: 0x0134660A, Week: 49, Year: 2021, Version: 1, Revision: 3,
			Name: "HDMI TO USB", PreferredMode: mode1080p60, ChecksumOK: true}},
		// A laptop panel: no name, no serial string, vendor and part in text.
		{"benign-boe-edp-panel.bin", EDID{Manufacturer: "BOE", ProductCode: 0x0974, Year: 2021, Version: 1, Revision: 4,
			Text: []string{"BOE CQ", "NV156FHM-N48"}, PreferredMode: Mode{1920, 1080, 138500000.0 / (2080 * 1111), 138500}, ChecksumOK: true}},
		{"benign-dell-u2720q.bin", EDID{Manufacturer: "DEL", ProductCode: 0xA13F, SerialNumber: 0x4C4C4A42, Week: 12, Year: 2021, Version: 1, Revision: 4,
			Name: "DELL U2720Q", SerialString: "6JDWF93", PreferredMode: Mode{3840, 2160, 533250000.0 / (4000 * 2222), 533250}, Extensions: 1, ExtensionTags: cta, ChecksumOK: true}},
		// Week 0xFF: a model year.
		{"benign-apple-thunderbolt.bin", EDID{Manufacturer: "APP", ProductCode: 0x9227, SerialNumber: 0x0243A1B5, Year: 2012, ModelYear: true, Version: 1, Revision: 4,
			Name: "Thunderbolt", PreferredMode: Mode{2560, 1440, 241500000.0 / (2720 * 1481), 241500}, ChecksumOK: true}},
	}
	if len(tests) != len(corpus) {
		t.Errorf("%d cases for %d corpus files", len(tests), len(corpus))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Parse(readCorpus(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestPNPCode(t *testing.T) {
	for file, want := range map[string]string{
		"pikvm-v4plus.bin":       "LNX7773",
		"ms2109.bin":             "HJW0001",
		"nanokvm-phl-342e2.bin":  "PHLC233",
		"jetkvm-acer-b246wl.bin": "ACR0565",
	} {
		e, err := Parse(readCorpus(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.PNPCode(); got != want {
			t.Errorf("%s: PNPCode() = %q, want %q", file, got, want)
		}
	}
}

func TestHash(t *testing.T) {
	v4 := readCorpus(t, "pikvm-v4plus.bin")
	h := Hash(v4)
	if len(h) != 16 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("Hash = %q, want 16 lowercase hex digits", h)
	}
	// The extension block does not count; the base block does.
	if got := Hash(v4[:BlockSize]); got != h {
		t.Errorf("Hash(base block) = %s, want %s", got, h)
	}
	if got := Hash(readCorpus(t, "pikvm-v3.bin")); got == h {
		t.Errorf("V3 and V4 Plus hash alike: %s", got)
	}
	// SHA-256 of 128 zero bytes, first 8 bytes.
	if got, want := Hash(make([]byte, 128)), "38723a2e5e8a17aa"; got != want {
		t.Errorf("Hash(zeros) = %s, want %s", got, want)
	}
}

// mutate returns a copy of b changed by fn, with the base block checksum
// fixed when fix is true.
func mutate(b []byte, fix bool, fn func([]byte) []byte) []byte {
	c := fn(bytes.Clone(b))
	if fix && len(c) >= BlockSize {
		c[127] = checksum(c)
	}
	return c
}

// nameDescriptor writes a 0xFC descriptor with raw bytes into descriptor
// slot 3 of the base block (a dummy in ms2109.bin, whose name is slot 1).
func nameDescriptor(raw string) func([]byte) []byte {
	return descriptorAt(3, raw)
}

func descriptorAt(slot int, raw string) func([]byte) []byte {
	return func(b []byte) []byte {
		d := append([]byte{0, 0, 0, 0xFC, 0}, raw...)
		for len(d) < 18 {
			d = append(d, ' ')
		}
		copy(b[54+18*slot:54+18*(slot+1)], d)
		return b
	}
}

func TestParseBadInput(t *testing.T) {
	v4 := readCorpus(t, "pikvm-v4plus.bin")
	ms := readCorpus(t, "ms2109.bin")
	tests := []struct {
		name  string
		in    []byte
		err   error
		flags []string
		check func(EDID) string // "" when fine
	}{
		{name: "empty", in: nil, err: ErrNoHeader},
		{name: "one byte", in: []byte{0}, err: ErrNoHeader},
		{name: "not an EDID", in: bytes.Repeat([]byte("GIF89a.."), 32), err: ErrNoHeader},
		{name: "header only", in: v4[:8], err: ErrTruncated, flags: []string{FlagTruncated}},
		{
			name: "truncated in the name descriptor", in: v4[:100], err: ErrTruncated, flags: []string{FlagTruncated},
			check: func(e EDID) string {
				if e.Manufacturer != "LNX" || e.ProductCode != 0x7773 || e.SerialString != "CAFEBABE" || e.Name != "" || e.ChecksumOK {
					return "want LNX 0x7773 CAFEBABE and no name"
				}
				return ""
			},
		},
		{
			name: "bad checksum keeps the fields", in: mutate(v4, false, func(b []byte) []byte { b[127]++; return b }),
			flags: []string{FlagBadChecksum},
			check: func(e EDID) string {
				if e.Name != "PiKVM V4 Plus" || e.ChecksumOK {
					return "want name parsed and ChecksumOK false"
				}
				return ""
			},
		},
		{name: "extension checksum", in: mutate(v4, false, func(b []byte) []byte { b[200]++; return b }), flags: []string{FlagExtChecksum}},
		{
			name: "damaged header still parsed", in: mutate(ms, false, func(b []byte) []byte { b[1], b[6] = 0x7F, 0xFE; return b }),
			flags: []string{FlagBadHeader, FlagBadChecksum},
			check: func(e EDID) string {
				if e.Name != "HDMI TO USB" {
					return "want name"
				}
				return ""
			},
		},
		{name: "header with three bytes wrong", in: mutate(ms, false, func(b []byte) []byte { b[1], b[2], b[3] = 0, 0, 0; return b }), err: ErrNoHeader},
		{
			name: "absurd extension count", in: mutate(ms, true, func(b []byte) []byte { b[126] = 255; return b }),
			flags: []string{FlagExtMissing},
			check: func(e EDID) string {
				if e.Extensions != 255 || e.ExtensionTags != nil {
					return "want Extensions 255 and no tags"
				}
				return ""
			},
		},
		{name: "extension cut short", in: v4[:200], flags: []string{FlagTruncated, FlagExtMissing}},
		{
			name: "100 KiB", in: append(bytes.Clone(v4), make([]byte, 100<<10)...),
			flags: []string{FlagTrailingData, FlagOversize},
			check: func(e EDID) string {
				if !reflect.DeepEqual(e.ExtensionTags, []uint8{TagCTA}) {
					return "want one CTA tag"
				}
				return ""
			},
		},
		{
			name: "control characters removed", in: mutate(ms, true, descriptorAt(1, "Pi\x1b[2JKVM\x00\x07\n")),
			flags: []string{FlagControlChars},
			check: func(e EDID) string {
				if e.Name != "Pi[2JKVM" {
					return "want Pi[2JKVM"
				}
				return ""
			},
		},
		{
			name: "invalid UTF-8 replaced", in: mutate(ms, true, func(b []byte) []byte {
				b = nameDescriptor("\xffKVM\xc3\n")(b)
				b[54+18*3+3] = 0xFF // make it the serial string
				return b
			}),
			flags: []string{FlagInvalidUTF8},
			check: func(e EDID) string {
				if e.SerialString != "\uFFFDKVM\uFFFD" {
					return "want \\uFFFDKVM\\uFFFD"
				}
				return ""
			},
		},
		{
			name: "UTF-8 kept, bidi override removed", in: mutate(ms, true, func(b []byte) []byte {
				b = nameDescriptor("Café\u202eX\n")(b)
				b[54+18*3+3] = 0xFE
				return b
			}),
			flags: []string{FlagControlChars, FlagNonASCII},
			check: func(e EDID) string {
				if !reflect.DeepEqual(e.Text, []string{"CaféX"}) {
					return "want text CaféX"
				}
				return ""
			},
		},
		{name: "second name", in: mutate(ms, true, nameDescriptor("PiKVM\n")), flags: []string{FlagDuplicate}},
		{
			name: "manufacturer letters out of range", in: mutate(ms, true, func(b []byte) []byte { b[8], b[9] = 0xFF, 0xFF; return b }),
			flags: []string{FlagBadManufacturer},
			check: func(e EDID) string {
				if e.Manufacturer != "???" {
					return "want ???"
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse error = %v, want %v", err, tt.err)
			}
			if !reflect.DeepEqual(e.Flags, tt.flags) {
				t.Errorf("Flags = %q, want %q", e.Flags, tt.flags)
			}
			if tt.check != nil {
				if msg := tt.check(e); msg != "" {
					t.Errorf("%s; got %+v", msg, e)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range corpus {
		f.Add(s.build())
	}
	f.Add([]byte{0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil && !errors.Is(err, ErrNoHeader) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("unexpected error %v", err)
		}
		if err == nil && len(b) < BlockSize {
			t.Fatalf("no error for %d bytes", len(b))
		}
		if len(e.ExtensionTags) > 255 || len(e.ExtensionTags) > e.Extensions {
			t.Fatalf("%d tags for %d extensions", len(e.ExtensionTags), e.Extensions)
		}
		if len(e.Manufacturer) != 0 && len(e.Manufacturer) != 3 {
			t.Fatalf("manufacturer %q", e.Manufacturer)
		}
		for _, s := range append([]string{e.Name, e.SerialString}, e.Text...) {
			if len(s) > 13*3 || s != strings.TrimSpace(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) }) {
				t.Fatalf("unclean string %q", s)
			}
		}
		if e.ChecksumOK == e.HasFlag(FlagBadChecksum) && err == nil {
			t.Fatalf("ChecksumOK %v with flags %q", e.ChecksumOK, e.Flags)
		}
		if h := Hash(b); len(h) != 16 {
			t.Fatalf("Hash %q", h)
		}
	})
}
