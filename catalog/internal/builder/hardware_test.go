package builder

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/farmwatch/farmwatch/catalog"
)

const ultravncOverride = `{"id":"ultravnc","name":"UltraVNC","category":"vnc","attack":"T1021.005","lolrmm":["Ultra VNC","UltraVNC"]}`

func withHardware(files map[string]string) fstest.MapFS {
	fsys := miniInputs(ultravncOverride)
	for name, data := range files {
		fsys[HardwareDir+"/"+name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

func TestHardwareFilesAreMergedAndSorted(t *testing.T) {
	out, err := Build(withHardware(map[string]string{
		"b.json": `{"usb":[{"id":"zeta","device":"Z","vendor_id":"1d6b","product_id":"0104","manufacturer":"Z","kind":"kvm","confidence":0.9,"attack":"T1219.003","sources":["s"]}],
		            "fixed_serials":[{"serial":"ZZ","devices":["Z"],"where":"usb"}]}`,
		"a.json": `{"usb":[{"id":"alpha","device":"A","vendor_id":"3346","product_id":"1009","kind":"kvm","confidence":0.9,"attack":"T1219.003","sources":["s"]}],
		            "allow":[{"id":"yubico","device":"Yubico","vendor_id":"1050","kind":"security_key","confidence":0.9,"sources":["s"]}],
		            "fixed_serials":[{"serial":"AA","devices":["A"],"where":"edid"}]}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(out.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Hardware
	if len(h.USB) != 2 || h.USB[0].ID != "alpha" || h.USB[1].ID != "zeta" || len(h.Allow) != 1 {
		t.Fatalf("usb %+v allow %+v", h.USB, h.Allow)
	}
	if len(h.FixedSerials) != 2 || h.FixedSerials[0].Serial != "AA" {
		t.Errorf("fixed serials %+v", h.FixedSerials)
	}
	if !strings.Contains(string(out.Docs), "| A (`alpha`) | `3346:1009` |") {
		t.Error("docs lack the USB identity row")
	}

	// The version covers the hardware section.
	other, err := Build(withHardware(map[string]string{
		"a.json": `{"usb":[{"id":"alpha","device":"A","vendor_id":"3346","product_id":"1009","kind":"kvm","confidence":0.8,"attack":"T1219.003","sources":["s"]}]}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	oc, _ := catalog.Parse(other.Catalog)
	if oc.Version == c.Version {
		t.Error("changing a hardware identity left the version unchanged")
	}
}

func TestNoHardwareDirectoryGivesAnEmptySection(t *testing.T) {
	out, err := Build(miniInputs(ultravncOverride))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(out.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Hardware.USB)+len(c.Hardware.Displays) != 0 {
		t.Errorf("hardware %+v", c.Hardware)
	}
}

func TestHardwareErrorsNameFileEntryAndField(t *testing.T) {
	const kvm = `{"id":"pikvm","device":"PiKVM","vendor_id":"1d6b","product_id":"0104","kind":"kvm","confidence":0.9,"attack":"T1219.003","sources":["s"]}`
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"pikvm.json": `{"usb":[` + strings.Replace(kvm, `"1d6b"`, `"1D6B"`, 1) + `]}`},
			`overrides/hardware/pikvm.json: usb[0] (pikvm): vendor_id: "1D6B" is not 4 lowercase hex digits`},
		{map[string]string{"pikvm.json": `{"displays":[{"id":"e","device":"D","manufacturer":"Lnx","name":"PiKVM","kind":"kvm","confidence":0.9,"sources":["s"]}]}`},
			`overrides/hardware/pikvm.json: displays[0] (e): manufacturer: "Lnx" is not a PNP id`},
		{map[string]string{"pikvm.json": `{"hid_descriptors":[{"id":"k","device":"D","kind":"keyboard","hash":"xyz","length":65,"specificity":"high","sources":["s"]}]}`},
			`overrides/hardware/pikvm.json: hid_descriptors[0] (k): hash: "xyz" is not 16 lowercase hex digits`},
		{map[string]string{"a.json": `{"usb":[` + kvm + `]}`, "b.json": `{"inquiry":[{"id":"pikvm","device":"P","vendor":"PiKVM","model":"Flash Drive","confidence":0.9,"sources":["s"]}]}`},
			`overrides/hardware/b.json: inquiry[0] (pikvm): id: duplicate of an entry in overrides/hardware/a.json`},
		{map[string]string{"a.json": `{"fixed_serials":[{"serial":"CAFEBABE","devices":["P"],"where":"usb"}]}`, "b.json": `{"fixed_serials":[{"serial":"CAFEBABE","devices":["G"],"where":"usb"}]}`},
			`overrides/hardware/b.json: fixed_serials[0] (CAFEBABE): serial: duplicate of an entry in overrides/hardware/a.json`},
		{map[string]string{"pikvm.json": `{"usbs":[]}`}, `overrides/hardware/pikvm.json: line 1, byte `},
	} {
		_, err := Build(withHardware(tc.files))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("error %v\nwant prefix %q", err, tc.want)
		}
	}
}
