package location

import (
	"slices"
	"testing"
	"time"
)

func TestCountryOffsets(t *testing.T) {
	winter := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	summer := time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)
	if got := CountryOffsets("KP", winter); !slices.Equal(got, []int32{9 * 3600}) {
		t.Errorf("KP = %v", got)
	}
	us := CountryOffsets("us", winter)
	for _, h := range []int32{-5, -6, -7, -8, -10} {
		if !slices.Contains(us, h*3600) {
			t.Errorf("US winter lacks %d: %v", h, us)
		}
	}
	if s := CountryOffsets("US", summer); !slices.Contains(s, -4*3600) || slices.Contains(s, -5*3600) && !slices.Contains(s, -5*3600) {
		t.Errorf("US summer = %v", s)
	}
	if CountryOffsets("ZZ", winter) != nil {
		t.Error("unknown country has offsets")
	}
}

func TestZoneInfoAndDistance(t *testing.T) {
	ny, ok := ZoneInfo("America/New_York")
	if !ok || ny.Country != "US" || ny.Latitude < 40 || ny.Latitude > 41 || ny.Longitude > -73 || ny.Longitude < -75 {
		t.Fatalf("New York = %+v", ny)
	}
	seoul, _ := ZoneInfo("Asia/Seoul")
	d := DistanceKm(ny.Latitude, ny.Longitude, seoul.Latitude, seoul.Longitude)
	if d < 11000 || d > 11100 { // about 11,050 km
		t.Fatalf("New York–Seoul = %.0f km", d)
	}
	if CountryName("kp") == "" || ValidCountry("XX") {
		t.Fatal("country names")
	}
	if _, err := ZoneOffset("Not/AZone", time.Now()); err == nil {
		t.Fatal("unknown zone accepted")
	}
	if FormatOffset(-9000) != "UTC-02:30" || FormatOffset(32400) != "UTC+09:00" {
		t.Fatal(FormatOffset(-9000))
	}
}
