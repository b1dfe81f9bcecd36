package software

import "strings"

// regReader is the part of the registry the Windows reader needs. The live
// registry implements it on Windows; *regfile.Hive implements it on every OS
// so that the logic below is tested on recorded .reg exports. Paths are
// full, with an abbreviated root: `HKLM\SOFTWARE\...`, `HKU\S-1-5-...`.
type regReader interface {
	String(path, name string) (string, bool)
	DWord(path, name string) (uint32, bool)
	Subkeys(path string) []string
}

// uninstallKeys are the machine-wide uninstall keys: native and 32-bit.
var uninstallKeys = []string{
	`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`,
	`HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall`,
}

// uninstallEntries reads the uninstall entries of the machine and of every
// user hive loaded under HKU (users logged on, or whose hives a service
// keeps loaded; per-user installs of logged-off users are not seen).
//
// An entry without DisplayName is hidden by Windows too (MSI components,
// SystemComponent=1 patches) and is skipped. Entries that have a
// DisplayName are kept even with SystemComponent=1: a tool that hides
// itself from "Apps & features" is still installed. Cost: one key open and
// about five value reads per entry; a few hundred entries on a laptop.
func uninstallEntries(r regReader) []Package {
	keys := append([]string(nil), uninstallKeys...)
	for _, sid := range r.Subkeys("HKU") {
		if strings.HasSuffix(strings.ToLower(sid), "_classes") {
			continue
		}
		keys = append(keys, `HKU\`+sid+`\Software\Microsoft\Windows\CurrentVersion\Uninstall`)
	}
	var pkgs []Package
	for _, k := range keys {
		for _, name := range r.Subkeys(k) {
			path := k + `\` + name
			display, _ := r.String(path, "DisplayName")
			if display = clean(display); display == "" {
				continue
			}
			p := Package{Name: display, Source: "windows", ID: clean(name)}
			p.Version, _ = r.String(path, "DisplayVersion")
			p.Publisher, _ = r.String(path, "Publisher")
			p.Path, _ = r.String(path, "InstallLocation")
			p.Version, p.Publisher = clean(p.Version), clean(p.Publisher)
			// Some installers (AnyDesk) quote the location.
			p.Path = strings.Trim(clean(p.Path), `"`)
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}
