package fsroot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPathStaysInsideTheTree(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc", "real"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc", "real", "file"), []byte("inside"), 0o644))
	must(os.Symlink("/etc/real/file", filepath.Join(root, "etc", "abs")))
	must(os.Symlink("real/file", filepath.Join(root, "etc", "rel")))
	must(os.Symlink("../../../../../../etc/hostname", filepath.Join(root, "etc", "escape")))
	must(os.Symlink("loop", filepath.Join(root, "etc", "loop")))
	for _, tc := range []struct {
		rel, want string
	}{
		{"/etc/abs", "inside"},
		{"/etc/rel", "inside"},
		{"/etc/escape", ""},
		{"/etc/loop", ""},
	} {
		b, err := ReadFile(Path(root, tc.rel), 1<<10)
		if string(b) != tc.want {
			t.Errorf("%s: read %q (%v), want %q", tc.rel, b, err, tc.want)
		}
	}
	if got := Path("/", "/etc/hostname"); got != "/etc/hostname" {
		t.Errorf("live path %q", got)
	}
}

func TestReadFileIsBoundedAndReadDirTolerant(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big")
	if err := os.WriteFile(p, make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(p, 100); err != nil || len(b) != 100 {
		t.Fatalf("bounded read: %d %v", len(b), err)
	}
	if ents, err := ReadDir(filepath.Join(dir, "missing")); err != nil || len(ents) != 0 {
		t.Fatalf("missing dir: %v %v", ents, err)
	}
}
