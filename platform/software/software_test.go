package software

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/platform/regfile"
)

func TestListDebianTree(t *testing.T) {
	got, err := List(context.Background(), "testdata/debian")
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Name: "AnyDesk", Source: "desktop", ID: "anydesk.desktop", Path: "/usr/bin/anydesk %u"},
		{Name: "anydesk", Version: "6.4.0", Publisher: "AnyDesk Software GmbH", Source: "dpkg"},
		{Name: "bash", Version: "5.2.15-2+b8", Publisher: "Matthias Klose", Source: "dpkg"},
		{Name: "Chrome Remote Desktop", Source: "desktop", ID: "chrome-inomeogfingihgjfjlpeplalcfajhgai-Default.desktop",
			Path: "/opt/google/chrome/google-chrome --profile-directory=Default --app-id=inomeogfingihgjfjlpeplalcfajhgai"},
		{Name: "com.rustdesk.RustDesk", Source: "flatpak", ID: "com.rustdesk.RustDesk", Path: "/var/lib/flatpak/app/com.rustdesk.RustDesk"},
		{Name: "remmina", Version: "v1.4.35+git1.6c3d1fa92", Source: "snap", ID: "remmina", Path: "/snap/remmina"},
		{Name: "RustDesk", Source: "desktop", ID: "rustdesk.desktop", Path: "rustdesk %u"},
		{Name: "rustdesk", Version: "1.3.7", Publisher: "rustdesk", Source: "dpkg"},
		{Name: "teamviewer", Source: "opt", Path: "/opt/teamviewer"},
		{Name: "x11vnc", Version: "0.9.16-9", Publisher: "Debian Remote Maintainers", Source: "dpkg"},
		{Name: "X11VNC Server", Source: "desktop", ID: "x11vnc.desktop", Path: "x11vnc -gui tray=setpass -rfbport PROMPT -bg -o %%HOME/.x11vnc.log.%%VNCDISPLAY"},
		{Name: "xrdp", Version: "0.9.21.1-1+deb12u2", Publisher: "Debian Remote Maintainers", Source: "dpkg"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func TestListMacTree(t *testing.T) {
	got, err := List(context.Background(), "testdata/macos")
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		// XML plist.
		{Name: "AnyDesk", Version: "9.0.1", Source: "macos-app", ID: "com.philandro.anydesk", Path: "/Applications/AnyDesk.app"},
		// No Info.plist: still installed, named after the bundle.
		{Name: "Broken", Source: "macos-app", Path: "/Applications/Broken.app"},
		// Binary plist, one folder below /Applications.
		{Name: "Jump Desktop Connect", Version: "6.10.28", Source: "macos-app", ID: "com.p5sys.jump.connect", Path: "/Applications/Utilities/Jump Desktop Connect.app"},
		// No CFBundleShortVersionString: CFBundleVersion.
		{Name: "Parsec", Version: "150-95", Source: "macos-app", ID: "tv.parsec.www", Path: "/Users/alice/Applications/Parsec.app"},
		// Binary plist; CFBundleDisplayName.
		{Name: "RustDesk", Version: "1.3.7", Source: "macos-app", ID: "com.carriez.rustdesk", Path: "/Applications/RustDesk.app"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func TestListMissingRoot(t *testing.T) {
	if _, err := List(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("List(missing root) returned no error")
	}
}

func TestUninstallEntries(t *testing.T) {
	b, err := os.ReadFile("testdata/windows/uninstall.reg")
	if err != nil {
		t.Fatal(err)
	}
	h, err := regfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	got := uninstallEntries(h)
	sortPackages(got)
	want := []Package{
		{Name: "AnyDesk", Version: "ad 9.0.4", Publisher: "AnyDesk Software GmbH", Source: "windows", ID: "AnyDesk", Path: `C:\Program Files (x86)\AnyDesk`},
		{Name: "Microsoft OneDrive", Version: "24.101.0519.0010", Publisher: "Microsoft Corporation", Source: "windows", ID: "OneDriveSetup.exe"},
		{Name: "RustDesk", Version: "1.3.7", Publisher: "RustDesk", Source: "windows", ID: "RustDesk", Path: `C:\Program Files\RustDesk\`},
		{Name: "TeamViewer", Version: "15.58.5", Publisher: "TeamViewer", Source: "windows", ID: "TeamViewer", Path: `C:\Program Files\TeamViewer`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("uninstallEntries() =\n%s\nwant\n%s", dump(got), dump(want))
	}
}

// rpmHeaderBlob builds an rpmdb header blob as rpm stores it: il, dl, index
// entries, data, with a region tag first as rpm writes one.
func rpmHeaderBlob(strs map[uint32]string, epoch int) []byte {
	var data bytes.Buffer
	type entry struct{ tag, typ, off, count uint32 }
	entries := []entry{{63, 7, 0, 16}} // HEADER_IMMUTABLE region trailer
	data.Write(make([]byte, 16))
	for _, tag := range []uint32{rpmTagName, rpmTagVersion, rpmTagRelease, rpmTagVendor} {
		if s, ok := strs[tag]; ok {
			entries = append(entries, entry{tag, rpmTypeString, uint32(data.Len()), 1})
			data.WriteString(s)
			data.WriteByte(0)
		}
	}
	if epoch >= 0 {
		for data.Len()%4 != 0 {
			data.WriteByte(0)
		}
		entries = append(entries, entry{rpmTagEpoch, rpmTypeInt32, uint32(data.Len()), 1})
		data.Write(binary.BigEndian.AppendUint32(nil, uint32(epoch)))
	}
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	b = binary.BigEndian.AppendUint32(b, uint32(data.Len()))
	for _, e := range entries {
		for _, v := range []uint32{e.tag, e.typ, e.off, e.count} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
	}
	return append(b, data.Bytes()...)
}

// fedoraTree makes a tree with an rpmdb.sqlite laid out as rpm 4.16+
// creates it.
func fedoraTree(t testing.TB, blobs ...[]byte) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "var", "lib", "rpm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
		"CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES Packages (hnum))",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range blobs {
		if _, err := db.Exec("INSERT INTO Packages (blob) VALUES (?)", b); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestListRPMDB(t *testing.T) {
	root := fedoraTree(t,
		rpmHeaderBlob(map[uint32]string{rpmTagName: "rustdesk", rpmTagVersion: "1.3.7", rpmTagRelease: "0", rpmTagVendor: "rustdesk"}, -1),
		rpmHeaderBlob(map[uint32]string{rpmTagName: "xrdp", rpmTagVersion: "0.10.1", rpmTagRelease: "1.fc40", rpmTagVendor: "Fedora Project"}, 1),
		rpmHeaderBlob(map[uint32]string{rpmTagName: "gpg-pubkey", rpmTagVersion: "a15b79cc", rpmTagRelease: "63d04c2c"}, -1),
		[]byte{0, 0, 0, 9, 0, 0, 0, 1}, // truncated: reported, skipped
	)
	got, err := List(context.Background(), root)
	if err == nil || !strings.Contains(err.Error(), "rpm header") {
		t.Errorf("List() error = %v, want the bad header reported", err)
	}
	want := []Package{
		{Name: "gpg-pubkey", Version: "a15b79cc-63d04c2c", Source: "rpm"},
		{Name: "rustdesk", Version: "1.3.7-0", Publisher: "rustdesk", Source: "rpm"},
		{Name: "xrdp", Version: "1:0.10.1-1.fc40", Publisher: "Fedora Project", Source: "rpm"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%s\nwant\n%s", dump(got), dump(want))
	}
	// The captured database is opened immutable: nothing is written next to it.
	ents, _ := os.ReadDir(filepath.Join(root, "var", "lib", "rpm"))
	if len(ents) != 1 {
		t.Errorf("rpm directory has %d entries after reading, want only rpmdb.sqlite", len(ents))
	}
}

func TestParseRPMHeader(t *testing.T) {
	good := rpmHeaderBlob(map[uint32]string{rpmTagName: "bash", rpmTagVersion: "5.2.26", rpmTagRelease: "3.fc40"}, -1)
	withMagic := append([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}, good...)
	badOffset := bytes.Clone(good)
	binary.BigEndian.PutUint32(badOffset[8+16+8:], 1<<30) // NAME offset far outside the data
	unterminated := bytes.Clone(good)
	unterminated = unterminated[:len(unterminated)-1]
	binary.BigEndian.PutUint32(unterminated[4:], binary.BigEndian.Uint32(unterminated[4:])-1)
	tests := []struct {
		name    string
		blob    []byte
		want    string
		wantErr bool
	}{
		{"rpmdb blob", good, "bash 5.2.26-3.fc40", false},
		{"package-file form", withMagic, "bash 5.2.26-3.fc40", false},
		{"offset outside data", badOffset, " 5.2.26-3.fc40", false},
		{"unterminated string", unterminated, "", true},
		{"empty", nil, "", true},
		{"il too big", []byte{0, 1, 0, 0, 0, 0, 0, 0}, "", true},
		{"dl beyond blob", []byte{0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 3, 232, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseRPMHeader(tt.blob)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			v := h.version + "-" + h.release
			if got := h.name + " " + v; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseDpkgStatus(t *testing.T) {
	in := "Package: a\nStatus: install ok installed\nVersion: 1\nDescription: x\n y\n\n" +
		"Package: b\nStatus: deinstall ok config-files\nVersion: 2\n\n" +
		"Package: c\nStatus: install ok half-configured\n\n" +
		"Package: d\nStatus: hold ok installed\nVersion: 4\n" // last stanza without a blank line
	got, err := parseDpkgStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{Name: "a", Version: "1", Source: "dpkg"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	long := "Package: a\nStatus: install ok installed\n\nPackage: b\nDescription: " + strings.Repeat("x", maxStatusLine+1) + "\n"
	got, err = parseDpkgStatus(strings.NewReader(long))
	if err == nil || len(got) != 1 {
		t.Errorf("overlong line: got %v, %v; want the first package and an error", got, err)
	}
}

func TestParseDesktopEntry(t *testing.T) {
	tests := []struct {
		in   string
		want Package
		ok   bool
	}{
		{"[Desktop Entry]\nName=AnyDesk\nExec=/usr/bin/anydesk %u\n", Package{Name: "AnyDesk", Path: "/usr/bin/anydesk %u", Source: "desktop"}, true},
		// Only the [Desktop Entry] group counts.
		{"[Desktop Action x]\nName=Other\n[Desktop Entry]\nName=Real\n", Package{Name: "Real", Source: "desktop"}, true},
		{"[Desktop Entry]\nType=Link\nName=Site\n", Package{}, false},
		{"[Desktop Entry]\nExec=foo\n", Package{}, false},
		{"Name=Outside\n", Package{}, false},
		{"[Desktop Entry]\nName=\x1b[31mRed\n", Package{Name: "[31mRed", Source: "desktop"}, true},
	}
	for _, tt := range tests {
		got, ok := parseDesktopEntry([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseDesktopEntry(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestListLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live test is for linux")
	}
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\n").Output()
	if err != nil {
		t.Skip("no dpkg-query:", err)
	}
	got, err := List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range got {
		if p.Source == "dpkg" {
			have[p.Name] = true
		}
	}
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		name, status, _ := strings.Cut(line, "\t")
		if strings.TrimSpace(status) != "ii" {
			continue
		}
		n++
		if !have[name] {
			t.Errorf("dpkg-query reports %q installed; List does not", name)
		}
	}
	if n == 0 || !have["bash"] {
		t.Errorf("List found %d dpkg packages, bash %v; dpkg-query %d", len(have), have["bash"], n)
	}
}

func BenchmarkList(b *testing.B) {
	for _, root := range []string{"", "testdata/debian", "testdata/macos"} {
		b.Run("root="+root, func(b *testing.B) {
			if root == "" && runtime.GOOS != "linux" {
				b.Skip("live only on linux here")
			}
			for b.Loop() {
				if _, err := List(context.Background(), root); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzParseDpkgStatus(f *testing.F) {
	b, err := os.ReadFile("testdata/debian/var/lib/dpkg/status")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("Package: x\nStatus: install ok installed\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := parseDpkgStatus(bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Source != "dpkg" || p.Name != clean(p.Name) {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}

func FuzzParseDesktopEntry(f *testing.F) {
	for _, file := range []string{"anydesk.desktop", "rustdesk.desktop", "x11vnc.desktop"} {
		b, err := os.ReadFile(filepath.Join("testdata/debian/usr/share/applications", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := parseDesktopEntry(b)
		if ok && (p.Name == "" || p.Name != clean(p.Name) || p.Path != clean(p.Path)) {
			t.Fatalf("bad entry %+v", p)
		}
	})
}

func FuzzParseRPMHeader(f *testing.F) {
	f.Add(rpmHeaderBlob(map[uint32]string{rpmTagName: "xrdp", rpmTagVersion: "0.10.1", rpmTagRelease: "1.fc40", rpmTagVendor: "Fedora Project"}, 1))
	f.Add([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseRPMHeader(b)
		if err != nil {
			return
		}
		for _, s := range []string{h.name, h.version, h.release, h.vendor} {
			if s != clean(s) {
				t.Fatalf("unclean %q", s)
			}
		}
	})
}

func dump(pkgs []Package) string {
	var sb strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&sb, "\t%s | %s | %s | %s | %s | %s\n", p.Source, p.Name, p.Version, p.Publisher, p.ID, p.Path)
	}
	return sb.String()
}
