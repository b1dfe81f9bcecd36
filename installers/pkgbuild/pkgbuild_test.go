package pkgbuild

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// need returns the path of tool, skipping the test when it is missing (failing under CI,
// which installs it).
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: CI must apt-get install %s", tool, pkg)
		}
		t.Skipf("%s is missing (apt-get install %s)", tool, pkg)
	}
	return p
}

func TestCksumMatchesPOSIXCksum(t *testing.T) {
	need(t, "cksum", "coreutils")
	for _, data := range []string{"", "a", "hello", strings.Repeat("farmwatch", 1000)} {
		cmd := exec.Command("cksum")
		cmd.Stdin = strings.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		want, err := strconv.ParseUint(strings.Fields(string(out))[0], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		if got := cksum([]byte(data)); got != uint32(want) {
			t.Errorf("cksum(%d bytes) = %d, cksum(1) says %d", len(data), got, want)
		}
	}
}

func testPackage() Package {
	return Package{
		Identifier: "com.example.tool", Name: "tool", Version: "1.2.3", Title: "Tool", HostArch: "arm64",
		MTime: time.Unix(1700000000, 0),
		Payload: []File{
			{Path: "/usr/local/bin/tool", Mode: 0o755, Data: []byte("#!/bin/sh\necho tool\n")},
			{Path: "/Library/LaunchDaemons/com.example.tool.plist", Mode: 0o644, Data: []byte("<plist/>\n")},
		},
		Scripts: []File{{Path: "postinstall", Mode: 0o755, Data: []byte("#!/bin/sh\nexit 0\n")}},
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := testPackage().Write(&a); err != nil {
		t.Fatal(err)
	}
	if err := testPackage().Write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two writes of one package differ")
	}
	if !bytes.HasPrefix(a.Bytes(), []byte("xar!\x00\x1c\x00\x01")) {
		t.Fatalf("not a xar header: % x", a.Bytes()[:8])
	}
}

func TestWriteRejectsBadPaths(t *testing.T) {
	for name, f := range map[string]func(*Package){
		"relative payload": func(p *Package) { p.Payload[0].Path = "usr/local/bin/tool" },
		"duplicate":        func(p *Package) { p.Payload[1].Path = p.Payload[0].Path },
		"script in a dir":  func(p *Package) { p.Scripts[0].Path = "x/postinstall" },
		"no version":       func(p *Package) { p.Version = "" },
	} {
		p := testPackage()
		f(&p)
		if err := p.Write(io.Discard); err == nil {
			t.Errorf("%s: Write succeeded", name)
		}
	}
}

// TestPayloadExtractsWithCpio reads the archive with 7z and the payload with GNU cpio, which
// share no code with the writer, and compares what comes out with what went in.
func TestPayloadExtractsWithCpio(t *testing.T) {
	sevenZip := need(t, "7z", "p7zip-full")
	cpio := need(t, "cpio", "cpio")
	dir := t.TempDir()
	pkg := filepath.Join(dir, "tool.pkg")
	var buf bytes.Buffer
	if err := testPackage().Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkg, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(dir, "x")
	if out, err := exec.Command(sevenZip, "x", "-y", "-o"+x, pkg).CombinedOutput(); err != nil {
		t.Fatalf("7z x: %v\n%s", err, out)
	}
	for _, name := range []string{"Distribution", "tool.pkg/PackageInfo", "tool.pkg/Bom", "tool.pkg/Payload", "tool.pkg/Scripts"} {
		if _, err := os.Stat(filepath.Join(x, name)); err != nil {
			t.Errorf("7z did not extract %s: %v", name, err)
		}
	}
	gz, err := os.Open(filepath.Join(x, "tool.pkg", "Payload"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cpio, "-idm", "--quiet", "--no-absolute-filenames")
	cmd.Dir, cmd.Stdin = root, zr
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -idm: %v\n%s", err, out)
	}
	for _, f := range testPackage().Payload {
		p := filepath.Join(root, f.Path)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s: content differs", f.Path)
		}
		st, _ := os.Stat(p)
		if st.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v, want %v", f.Path, st.Mode().Perm(), f.Mode)
		}
		if !st.ModTime().Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: mtime %v", f.Path, st.ModTime())
		}
	}
	info, err := os.ReadFile(filepath.Join(x, "tool.pkg", "PackageInfo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`identifier="com.example.tool"`, `version="1.2.3"`, `numberOfFiles="8"`, `<postinstall file="./postinstall"/>`} {
		if !bytes.Contains(info, []byte(want)) {
			t.Errorf("PackageInfo lacks %s:\n%s", want, info)
		}
	}
}
