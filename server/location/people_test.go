package location

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePeopleCSV(t *testing.T) {
	in := "\ufeffEmployee_ID,name,country,time_zone,latitude,longitude,languages,night_shift,device_serial,device_hostname\n" +
		"E1,Ada Lovelace,us,America/New_York,40.71,-74.01,en;ko,no,SER1,\n" +
		"E2,\"Bo, Jr\",,America/Chicago,,,en,yes,,Laptop-02\n" +
		"\n" +
		"E3,Cy,GB,,,,,,SER3,\n"
	ps, err := ParsePeopleCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("%d people", len(ps))
	}
	if p := ps[0]; p.Country != "US" || !p.HasCoordinates || p.Latitude != 40.71 || len(p.Languages) != 2 || p.Languages[1] != "ko" || p.NightShift {
		t.Fatalf("E1 = %+v", p)
	}
	if p := ps[1]; p.Name != "Bo, Jr" || !p.NightShift || p.DeviceHostname != "laptop-02" || p.HasCoordinates {
		t.Fatalf("E2 = %+v", p)
	}
}

func TestParsePeopleCSVBadRows(t *testing.T) {
	in := "employee_id,country,time_zone,latitude,longitude,languages,night_shift,device_serial\n" +
		"E1,US,America/New_York,,,en,,S1\n" + // line 2 fine
		"E2,XX,,,,,,S2\n" + // 3 bad country
		"E3,US,Mars/Olympus,,,,,S3\n" + // 4 unknown zone
		"E1,US,,,,,,S4\n" + // 5 duplicate id
		"E5,US,,91,10,,,S5\n" + // 6 bad latitude
		"E6,US,,,,,maybe,S6\n" + // 7 bad night_shift
		"E7,,,,,,,S7\n" + // 8 no place
		"E8,US,,,,,,S1\n" + // 9 duplicate serial
		"E9,US,,,\n" + // 10 short row
		"E10,US,Asia/Seoul,,,,,S10\n" + // 11 zone outside country
		"E11,US,,,,k0rean,,S11\n" // 12 bad language
	_, err := ParsePeopleCSV(strings.NewReader(in))
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"line 3: country \"XX\"", "line 4: time_zone \"Mars/Olympus\"", "line 5: employee_id \"E1\" already on line 2",
		"line 6: coordinates", "line 7: night_shift", "line 8: neither country", "line 9: device_serial \"S1\" already on line 2",
		"line 10: 5 fields", "line 11: time_zone Asia/Seoul is in KR", "line 12: language \"k0rean\""}
	if len(ie.Problems) != len(want) {
		t.Fatalf("problems:\n%s", strings.Join(ie.Problems, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(ie.Problems[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, ie.Problems[i], w)
		}
	}
	if !strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("message: %v", err)
	}
}

func TestParsePeopleCSVHeaderProblems(t *testing.T) {
	for name, in := range map[string]string{
		"empty":         "",
		"typo":          "employee_id,contry,device_serial\nE1,US,S1\n",
		"no id":         "country,device_serial\nUS,S1\n",
		"no match key":  "employee_id,country\nE1,US\n",
		"no rows":       "employee_id,country,device_serial\n",
		"bad quoting":   "employee_id,country,device_serial\nE1,\"US,S1\n",
		"control chars": "employee_id,country,device_serial\nE1\x07,US,S1\n",
	} {
		if _, err := ParsePeopleCSV(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func FuzzParsePeopleCSV(f *testing.F) {
	f.Add("employee_id,country,time_zone,device_serial\nE1,US,America/New_York,S1\n")
	f.Add("employee_id,latitude,longitude,country,device_hostname\nE1,1e308,-0,KP,h\n")
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := ParsePeopleCSV(strings.NewReader(in))
		if err == nil && len(ps) == 0 {
			t.Fatal("no error and no people")
		}
		for _, p := range ps {
			if p.EmployeeID == "" || (p.DeviceSerial == "" && p.DeviceHostname == "") {
				t.Fatalf("invalid person accepted: %+v", p)
			}
		}
	})
}
