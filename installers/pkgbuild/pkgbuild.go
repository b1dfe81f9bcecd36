// Package pkgbuild writes macOS flat installer packages (.pkg) in pure Go, so the agent's pkg
// is built on Linux without Apple's pkgbuild/productbuild or the unpackaged xar and mkbom.
//
// A flat package is a xar archive holding a Distribution script and one component package
// directory with PackageInfo, Bom, Payload (gzip'd odc cpio of the files, paths relative to
// the install location) and Scripts (gzip'd odc cpio of preinstall/postinstall). Everything
// is owned by root:wheel and dated Package.MTime, so equal inputs give equal bytes. The
// result is unsigned: productsign or rcodesign adds the Developer ID Installer signature.
package pkgbuild

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// File is a regular file of the payload or a script.
type File struct {
	// Path is the absolute install path for payload files ("/usr/local/bin/tool") and the
	// bare name for scripts ("postinstall").
	Path string
	Mode fs.FileMode // permission bits; directories above payload files get 0755
	Data []byte
}

// Package describes one component package wrapped in a product archive.
type Package struct {
	Identifier string // reverse-DNS bundle identifier, e.g. com.farmwatch.agent
	Version    string
	Title      string // shown by Installer.app
	// Name is the component package's directory in the archive, Name+".pkg"; the default is
	// Identifier.
	Name string
	// HostArch is "x86_64" or "arm64"; Installer refuses the package on other machines.
	HostArch string
	MTime    time.Time
	Payload  []File
	Scripts  []File
}

// Write writes the flat package to w.
func (p Package) Write(w io.Writer) error {
	if p.Identifier == "" || p.Version == "" {
		return fmt.Errorf("pkgbuild: identifier and version are required")
	}
	mtime := p.MTime.Unix()
	payloadPaths, payloadEntries, kbytes, err := p.payloadTree(mtime)
	if err != nil {
		return err
	}
	var payload, scripts bytes.Buffer
	if err := writeCPIO(&payload, payloadEntries); err != nil {
		return err
	}
	scriptEntries := []cpioEntry{{name: ".", mode: 0o040755, mtime: mtime}}
	for _, s := range p.Scripts {
		if strings.Contains(s.Path, "/") {
			return fmt.Errorf("pkgbuild: script %q must be a bare name", s.Path)
		}
		scriptEntries = append(scriptEntries, cpioEntry{name: "./" + s.Path, mode: 0o100000 | uint32(s.Mode.Perm()), mtime: mtime, data: s.Data})
	}
	if err := writeCPIO(&scripts, scriptEntries); err != nil {
		return err
	}
	component := p.Identifier + ".pkg"
	if p.Name != "" {
		component = p.Name + ".pkg"
	}
	children := []*xarNode{
		{name: "Bom", data: buildBom(payloadPaths)},
		{name: "PackageInfo", data: p.packageInfo(len(payloadPaths), kbytes)},
		{name: "Payload", data: payload.Bytes()},
	}
	if len(p.Scripts) > 0 {
		children = append(children, &xarNode{name: "Scripts", data: scripts.Bytes()})
	}
	return writeXar(w, []*xarNode{
		{name: "Distribution", data: p.distribution(component, kbytes)},
		{name: component, dir: true, children: children},
	}, p.MTime)
}

// payloadTree returns the Bom paths and cpio entries of the payload, with every parent
// directory, sorted so a directory precedes its contents, and the installed size in KiB.
func (p Package) payloadTree(mtime int64) ([]bomPath, []cpioEntry, int, error) {
	files := map[string]File{}
	dirs := map[string]bool{".": true}
	for _, f := range p.Payload {
		clean := path.Clean(f.Path)
		if !path.IsAbs(clean) || clean == "/" {
			return nil, nil, 0, fmt.Errorf("pkgbuild: payload path %q must be absolute", f.Path)
		}
		rel := "." + clean
		if _, dup := files[rel]; dup {
			return nil, nil, 0, fmt.Errorf("pkgbuild: payload path %q given twice", f.Path)
		}
		files[rel] = f
		for d := path.Dir(clean); d != "/"; d = path.Dir(d) {
			dirs["."+d] = true
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names) // "." < "./a" < "./a/b": parents first
	ids := map[string]uint32{}
	var (
		paths   []bomPath
		entries []cpioEntry
		bytes   int
	)
	for i, n := range names {
		id := uint32(i + 1)
		ids[n] = id
		bp := bomPath{id: id, name: path.Base(n), mode: 0o040755}
		if n != "." {
			bp.parent = ids[path.Dir(n)]
		}
		e := cpioEntry{name: n, mode: 0o040755, mtime: mtime}
		if f, ok := files[n]; ok {
			bp.mode = 0o100000 | uint32(f.Mode.Perm())
			bp.size = uint32(len(f.Data))
			bp.cksum = cksum(f.Data)
			e.mode, e.data = bp.mode, f.Data
			bytes += len(f.Data)
		}
		paths = append(paths, bp)
		entries = append(entries, e)
	}
	return paths, entries, (bytes + 1023) / 1024, nil
}

func xmlAttr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (p Package) packageInfo(files, kbytes int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?>
<pkg-info format-version="2" identifier="%s" version="%s" install-location="/" auth="root" generator-version="farmwatch-pkgbuild">
    <payload numberOfFiles="%d" installKBytes="%d"/>
    <bundle-version/>
    <upgrade-bundle/>
    <update-bundle/>
    <atomic-update-bundle/>
    <strict-identifier/>
    <relocate/>
    <scripts>
`, xmlAttr(p.Identifier), xmlAttr(p.Version), files, kbytes)
	for _, s := range p.Scripts {
		if s.Path == "preinstall" || s.Path == "postinstall" {
			fmt.Fprintf(&b, "        <%s file=\"./%s\"/>\n", s.Path, s.Path)
		}
	}
	b.WriteString("    </scripts>\n</pkg-info>\n")
	return b.Bytes()
}

func (p Package) distribution(component string, kbytes int) []byte {
	id, v := xmlAttr(p.Identifier), xmlAttr(p.Version)
	arch := ""
	if p.HostArch != "" {
		arch = fmt.Sprintf(` hostArchitectures="%s"`, xmlAttr(p.HostArch))
	}
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>%s</title>
    <options customize="never" require-scripts="false" rootVolumeOnly="true"%s/>
    <domains enable_localSystem="true" enable_anywhere="false" enable_currentUserHome="false"/>
    <pkg-ref id="%s"/>
    <choices-outline>
        <line choice="default">
            <line choice="%s"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="%s" visible="false">
        <pkg-ref id="%s"/>
    </choice>
    <pkg-ref id="%s" version="%s" onConclusion="none" installKBytes="%d">#%s</pkg-ref>
    <product id="%s" version="%s"/>
</installer-gui-script>
`, xmlAttr(p.Title), arch, id, id, id, id, id, v, kbytes, xmlAttr(component), id, v)
}
