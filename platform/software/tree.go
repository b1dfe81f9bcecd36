package software

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// maxFile bounds the read of a small file (desktop entry, snap.yaml,
// Info.plist); real ones are a few KiB.
const maxFile = 1 << 20

// readTree reads a captured tree with every file-based reader. It builds on
// every OS.
func readTree(ctx context.Context, root string) ([]Package, error) {
	if err := fsroot.CheckRoot(root); err != nil {
		return nil, err
	}
	pkgs, err := readLinux(ctx, root)
	mac, merr := macApps(ctx, root)
	return append(pkgs, mac...), errors.Join(err, merr)
}

// readLinux reads the Linux sources under root ("/" for the live system).
func readLinux(ctx context.Context, root string) ([]Package, error) {
	var pkgs []Package
	var errs []error
	for _, read := range []func(context.Context, string) ([]Package, error){
		dpkgStatus, rpmDB, flatpaks, snaps, desktopEntries, optDirs,
	} {
		if err := ctx.Err(); err != nil {
			return pkgs, err
		}
		p, err := read(ctx, root)
		pkgs = append(pkgs, p...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return pkgs, errors.Join(errs...)
}

// subdirs lists the names of the directories (or symlinks to them) in dir,
// sorted; an absent directory has none.
func subdirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if fsroot.Absent(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		} else if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && fi.IsDir() {
				out = append(out, e.Name())
			}
		}
	}
	return out, nil
}

// homes returns the slash-separated home directories under root/home, plus
// root's own: "home/alice", "root".
func homes(root string) []string {
	names, _ := subdirs(filepath.Join(root, "home"))
	out := make([]string, 0, len(names)+1)
	for _, n := range names {
		out = append(out, "home/"+n)
	}
	return append(out, "root")
}

// flatpaks lists system and per-user flatpak applications: the directory
// names under app/, which are the application ids.
func flatpaks(_ context.Context, root string) ([]Package, error) {
	dirs := []string{"var/lib/flatpak/app"}
	for _, h := range homes(root) {
		dirs = append(dirs, h+"/.local/share/flatpak/app")
	}
	var pkgs []Package
	var errs []error
	for _, d := range dirs {
		ids, err := subdirs(filepath.Join(root, filepath.FromSlash(d)))
		if err != nil {
			errs = append(errs, err)
		}
		for _, id := range ids {
			pkgs = append(pkgs, Package{Name: id, Source: "flatpak", ID: id, Path: "/" + d + "/" + id})
		}
	}
	return pkgs, errors.Join(errs...)
}

// snaps lists the snaps mounted under /snap with the version from their
// meta/snap.yaml; when /snap is empty (a captured tree without the
// squashfs mounts), the names of var/lib/snapd/snaps/NAME_REV.snap.
func snaps(_ context.Context, root string) ([]Package, error) {
	names, err := subdirs(filepath.Join(root, "snap"))
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	for _, n := range names {
		if n == "bin" {
			continue
		}
		p := Package{Name: n, Source: "snap", ID: n, Path: "/snap/" + n}
		if b, err := fsroot.ReadFile(fsroot.Path(root, "snap/"+n+"/current/meta/snap.yaml"), 64<<10); err == nil {
			p.Version = yamlScalar(b, "version")
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) > 0 {
		return pkgs, nil
	}
	ents, err := os.ReadDir(filepath.Join(root, "var", "lib", "snapd", "snaps"))
	if err != nil {
		if fsroot.Absent(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list snaps: %w", err)
	}
	seen := map[string]bool{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".snap")
		if !ok || e.IsDir() {
			continue
		}
		if i := strings.LastIndexByte(name, '_'); i > 0 {
			name = name[:i]
		}
		if !seen[name] {
			seen[name] = true
			pkgs = append(pkgs, Package{Name: name, Source: "snap", ID: name, Path: "/snap/" + name})
		}
	}
	return pkgs, nil
}

// yamlScalar returns the top-level "key: value" of a simple YAML file,
// unquoted; snap.yaml needs nothing more.
func yamlScalar(b []byte, key string) string {
	for line := range strings.SplitSeq(string(b), "\n") {
		v, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		return clean(v)
	}
	return ""
}

// optDirs lists each directory in /opt as one package: vendors that ship
// tarballs or their own installers (TeamViewer, AnyDesk's older builds)
// install there.
func optDirs(_ context.Context, root string) ([]Package, error) {
	names, err := subdirs(filepath.Join(root, "opt"))
	var pkgs []Package
	for _, n := range names {
		pkgs = append(pkgs, Package{Name: n, Source: "opt", Path: "/opt/" + n})
	}
	return pkgs, err
}

// clean bounds a field from an untrusted file: valid UTF-8, no control
// characters, trimmed, at most 1 KiB (cut at a character boundary).
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimSpace(s)
	if len(s) > 1024 {
		n := 1024
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = strings.TrimSpace(s[:n])
	}
	return s
}
