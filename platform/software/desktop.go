package software

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// desktopEntries reads the .desktop files of the system and user
// application directories.
func desktopEntries(_ context.Context, root string) ([]Package, error) {
	dirs := []string{"usr/share/applications", "usr/local/share/applications"}
	for _, h := range homes(root) {
		dirs = append(dirs, h+"/.local/share/applications")
	}
	var pkgs []Package
	var errs []error
	for _, d := range dirs {
		dir := filepath.Join(root, filepath.FromSlash(d))
		ents, err := os.ReadDir(dir)
		if err != nil {
			if !fsroot.Absent(err) {
				errs = append(errs, fmt.Errorf("list %s: %w", dir, err))
			}
			continue
		}
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".desktop") {
				continue
			}
			b, err := fsroot.ReadFile(fsroot.Path(root, d+"/"+e.Name()), maxFile)
			if err != nil {
				if !fsroot.Absent(err) {
					errs = append(errs, err)
				}
				continue
			}
			if p, ok := parseDesktopEntry(b); ok {
				p.ID = e.Name()
				pkgs = append(pkgs, p)
			}
		}
	}
	return pkgs, errors.Join(errs...)
}

// parseDesktopEntry reads Name= and Exec= of the [Desktop Entry] group of a
// freedesktop.org desktop entry. Localised keys (Name[de]=) are ignored;
// Exec= keeps its field codes (%U). Entries of another Type than
// Application (Link, Directory) are not software and give ok false, as do
// entries without a Name.
func parseDesktopEntry(b []byte) (Package, bool) {
	var p Package
	typ := ""
	inGroup := false
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			inGroup = line == "[Desktop Entry]"
			continue
		}
		if !inGroup {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "Name":
			p.Name = clean(value)
		case "Exec":
			p.Path = clean(value)
		case "Type":
			typ = strings.TrimSpace(value)
		}
	}
	if p.Name == "" || (typ != "" && typ != "Application") {
		return Package{}, false
	}
	p.Source = "desktop"
	return p, true
}
