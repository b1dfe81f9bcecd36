package timezone

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"
	_ "time/tzdata" // zone rules for names the captured trees do not carry
)

func TestReadTree(t *testing.T) {
	summer := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	winter := time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		root string
		now  time.Time
		want Zone
	}{
		// Absolute symlink as Debian writes it; rules from Go's database.
		{"testdata/debian", summer, Zone{Name: "Europe/Berlin", Abbreviation: "CEST", UTCOffsetSeconds: 7200, DST: true, Source: "/etc/localtime symlink"}},
		{"testdata/debian", winter, Zone{Name: "Europe/Berlin", Abbreviation: "CET", UTCOffsetSeconds: 3600, Source: "/etc/localtime symlink"}},
		// Relative symlink as Fedora writes it; rules from the tree.
		{"testdata/fedora", winter, Zone{Name: "America/New_York", Abbreviation: "EST", UTCOffsetSeconds: -18000, Source: "/etc/localtime symlink"}},
		// The symlink wins over a stale /etc/timezone.
		{"testdata/stale", summer, Zone{Name: "Asia/Kolkata", Abbreviation: "IST", UTCOffsetSeconds: 19800, Source: "/etc/localtime symlink"}},
		// A copied file has rules but no name.
		{"testdata/copied", summer, Zone{Abbreviation: "JST", UTCOffsetSeconds: 32400, Source: "/etc/localtime file"}},
		// posix/ prefixes are stripped.
		{"testdata/posix", summer, Zone{Name: "Europe/Kyiv", Abbreviation: "EEST", UTCOffsetSeconds: 10800, DST: true, Source: "/etc/localtime symlink"}},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			got, err := readTree(tt.root, false, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("readTree() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadTreeTimezoneFileOnly(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(root+"/etc", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+"/etc/timezone", []byte("America/Sao_Paulo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "America/Sao_Paulo" || got.Source != "/etc/timezone" || got.UTCOffsetSeconds != -3*3600 {
		t.Errorf("Read() = %+v", got)
	}
}

func TestReadTreeNothingConfigured(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(root+"/etc", 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Read(context.Background(), root)
	if err != nil || got != (Zone{}) {
		t.Errorf("Read(empty etc) = %+v, %v; want zero Zone, nil", got, err)
	}
	if _, err := Read(context.Background(), root+"/absent"); err == nil {
		t.Error("Read(missing root) returned no error")
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"Europe/Berlin": true, "Etc/GMT+5": true, "America/Argentina/Buenos_Aires": true, "UTC": true,
		"": false, "/etc/passwd": false, "../../etc/passwd": false, "Europe/Berlin\n": false, "CET-1CEST": true,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestReadLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live zone test is for linux")
	}
	t.Setenv("TZ", "Asia/Tokyo")
	got, err := Read(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Zone{Name: "Asia/Tokyo", Abbreviation: "JST", UTCOffsetSeconds: 32400, Source: "TZ"}); got != want {
		t.Errorf("Read() with TZ = %+v, want %+v", got, want)
	}

	t.Setenv("TZ", "")
	got, err = Read(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		if want := zoneName(target); got.Name != want || got.Source != "/etc/localtime symlink" {
			t.Errorf("Name, Source = %q, %q; want %q from the symlink", got.Name, got.Source, want)
		}
	}
	// Offset and abbreviation must match the rules in /etc/localtime itself.
	if b, err := os.ReadFile("/etc/localtime"); err == nil {
		loc, err := time.LoadLocationFromTZData("", b)
		if err != nil {
			t.Fatal(err)
		}
		abbr, off := time.Now().In(loc).Zone()
		if got.Abbreviation != abbr || got.UTCOffsetSeconds != int32(off) {
			t.Errorf("Abbreviation, offset = %q, %d; /etc/localtime says %q, %d", got.Abbreviation, got.UTCOffsetSeconds, abbr, off)
		}
	}
}
