package display

import "strings"

// regReader is the part of the registry the Windows reader needs. The live
// registry implements it on Windows; the tests read a recorded .reg export
// through regfile. Paths are full, with an abbreviated root
// (`HKLM\SYSTEM\...`).
type regReader interface {
	Subkeys(path string) []string
	// Binary returns a REG_BINARY value of at most maxEDIDRead bytes.
	Binary(path, name string) ([]byte, bool)
}

// enumDisplay holds one key per monitor model ("DELA13F", "LNX7773",
// "Default_Monitor") and below it one per device instance.
const enumDisplay = `HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY`

// registryDisplays lists every monitor instance Windows has enumerated on
// this computer: Enum\DISPLAY\<model>\<instance>\Device Parameters\EDID.
// Windows keeps these keys after the monitor is unplugged, so the list
// includes every monitor (or KVM capture input) connected since the
// installation, each with the EDID it presented.
//
// present holds the upper-case device instance ids ("DISPLAY\LNX7773\...")
// that are present now (SetupAPI, DIGCF_PRESENT); they are "connected" and
// Enabled, the others "remembered" with Source "registry-history". When
// present is nil (presence unknown) every instance is "unknown" with Source
// "registry". An instance without an EDID value (Default_Monitor) is listed
// with a nil EDID.
//
// Cost: one subkey listing per model and one value read per instance.
func registryDisplays(r regReader, present map[string]bool) []Display {
	var ds []Display
	for _, model := range r.Subkeys(enumDisplay) {
		for _, inst := range r.Subkeys(enumDisplay + `\` + model) {
			id := `DISPLAY\` + model + `\` + inst
			d := Display{Connector: id, Status: StatusUnknown, Source: "registry"}
			switch {
			case present == nil:
			case present[strings.ToUpper(id)]:
				d.Status, d.Enabled = StatusConnected, true
			default:
				d.Status, d.Source = StatusRemembered, "registry-history"
			}
			if raw, ok := r.Binary(enumDisplay+`\`+model+`\`+inst+`\Device Parameters`, "EDID"); ok {
				d = withEDID(d, raw)
			}
			ds = append(ds, d)
		}
	}
	return ds
}
