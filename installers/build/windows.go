package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// msiPlatforms are the MSI file name's architecture and the Summary Information Template's
// platform for each Windows GOARCH that gets an MSI.
var msiPlatforms = map[string]struct{ name, template string }{
	"amd64": {"x64", "x64;1033"},
	"arm64": {"arm64", "Arm64;1033"},
}

// buildWindows writes the (signed) executable and the MSI: farmwatch-agent-VERSION-x64.msi for
// amd64, farmwatch-agent-VERSION-arm64.msi for arm64.
//
// wixl 0.101 builds x86, x64 and ia64 packages only (-a). The arm64 MSI is wixl's x64 package
// (64-bit components, ProgramFiles64Folder) around the windows/arm64 agent, with the Summary
// Information Template changed from "x64;1033" to "Arm64;1033" by msibuild (msitools): the
// Template is all that tells Windows Installer a package's platform. Arm64 packages need
// schema 500 or later (PID_PAGECOUNT), which InstallerVersion="500" in the .wxs gives both.
func buildWindows(ctx context.Context, o Options, version, arch, bin, work string) ([]string, error) {
	exe := filepath.Join(work, "farmwatch-agent.exe")
	if err := copyFile(bin, exe, 0o755, o.Epoch); err != nil {
		return nil, err
	}
	if o.Sign != nil {
		if err := o.Sign.Sign(ctx, exe, o.Epoch); err != nil {
			return nil, err
		}
		if err := os.Chtimes(exe, o.Epoch, o.Epoch); err != nil {
			return nil, err
		}
	}
	outExe := filepath.Join(o.Out, fmt.Sprintf("farmwatch-agent-%s-windows-%s.exe", version, arch))
	if err := copyFile(exe, outExe, 0o755, o.Epoch); err != nil {
		return nil, err
	}
	platform, ok := msiPlatforms[arch]
	if !ok {
		o.Log.Warn("no MSI for windows/"+arch+": wixl 0.101 builds x86, x64 and ia64 packages only", "exe", outExe)
		return []string{outExe}, nil
	}

	config := filepath.Join(work, "agent.yaml")
	if err := copyFile(filepath.Join(o.Src, "windows", "agent.yaml"), config, 0o644, o.Epoch); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(o.Src, "windows", "farmwatch-agent.wxs"), filepath.Join(work, "farmwatch-agent.wxs"), 0o644, o.Epoch); err != nil {
		return nil, err
	}
	msi, err := filepath.Abs(filepath.Join(o.Out, fmt.Sprintf("farmwatch-agent-%s-%s.msi", version, platform.name)))
	if err != nil {
		return nil, err
	}
	// A new ProductCode per MSI version, as MajorUpgrade requires (the UpgradeCode is fixed in the
	// .wxs). Builds sharing a numeric version share the code, so msiexec refuses the second one
	// instead of installing it beside the first.
	productCode := guid("farmwatch-agent product " + msiVersion(version) + " " + arch)
	start := time.Now()
	// wixl resolves Source= only as paths relative to its working directory.
	if err := runIn(ctx, work, nil, o.Wixl, "-a", "x64",
		"-D", "Version="+msiVersion(version), "-D", "ProductCode="+productCode,
		"-D", "Binary=farmwatch-agent.exe", "-D", "Config=agent.yaml",
		"-o", msi, "farmwatch-agent.wxs"); err != nil {
		return nil, err
	}
	if arch != "amd64" {
		// msibuild -s sets the Subject, Author and Template (and leaves the package code, which
		// it is not given): Subject and Author as wixl wrote them from the .wxs's <Package
		// Description> and Manufacturer.
		if err := run(ctx, nil, o.Msibuild, msi, "-s", "Farmwatch agent "+msiVersion(version), "Farmwatch", platform.template); err != nil {
			return nil, err
		}
	}
	if err := fixSummary(msi, platform.template, start.Add(-time.Minute), time.Now().Add(time.Minute), o.Epoch); err != nil {
		return nil, err
	}
	if o.Sign != nil {
		if err := o.Sign.Sign(ctx, msi, o.Epoch); err != nil {
			return nil, err
		}
	}
	return []string{outExe, msi}, nil
}

// guid is a name-based (version 5 layout, SHA-256) GUID, so that equal inputs give equal MSIs.
func guid(name string) string {
	h := sha256.Sum256([]byte(name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

var revisionRE = regexp.MustCompile(`\x1e\x00\x00\x00\x27\x00\x00\x00(\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\})\x00`)

// fixSummary makes wixl's output reproducible. wixl stamps the summary information with a
// random package code (PID_REVNUMBER, a VT_LPSTR GUID) and the wall-clock creation and save
// times (VT_FILETIME); SOURCE_DATE_EPOCH is not honoured. Both are rewritten in place: the
// times to epoch, the package code to a GUID of the rest of the file's bytes. It also checks
// that the Template (PID_TEMPLATE, a VT_LPSTR) is template.
func fixSummary(path, template string, from, to, epoch time.Time) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	filetime := func(t time.Time) uint64 { return uint64(t.Unix()+11644473600)*1e7 + uint64(t.Nanosecond()/100) }
	lo, hi := filetime(from), filetime(to)
	stamps := 0
	for i := 0; i+12 <= len(b); i += 4 {
		if binary.LittleEndian.Uint32(b[i:]) != 0x40 {
			continue
		}
		if v := binary.LittleEndian.Uint64(b[i+4:]); v >= lo && v <= hi {
			binary.LittleEndian.PutUint64(b[i+4:], filetime(epoch))
			stamps++
		}
	}
	// PID_TEMPLATE's value: VT_LPSTR, the length with the NUL, the string.
	tmpl := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0x1e), uint32(len(template)+1))
	if n := bytes.Count(b, append(append(tmpl, template...), 0)); n != 1 {
		return fmt.Errorf("%s: the summary information has %d Templates %q, want 1", path, n, template)
	}
	m := revisionRE.FindAllSubmatchIndex(b, -1)
	if len(m) != 1 || stamps == 0 {
		return fmt.Errorf("%s: wixl's summary information has %d package codes and %d build times, want 1 and some: cannot make it reproducible", path, len(m), stamps)
	}
	code := b[m[0][2]:m[0][3]]
	copy(code, bytes.Repeat([]byte("0"), len(code)))
	sum := sha256.Sum256(b)
	copy(code, "{"+guid("farmwatch-agent package "+hex.EncodeToString(sum[:]))+"}")
	if len(code) != 38 {
		return errors.New("package code has the wrong length")
	}
	return os.WriteFile(path, b, 0o644)
}
