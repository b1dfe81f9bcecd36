// Package fsroot reads files of the live system or of a captured file-system tree, the way
// every platform reader does: paths are given as on the scanned system ("/etc/passwd"), symlinks
// of a captured tree resolve inside the tree (never onto this computer), and reads are bounded
// because the bytes are untrusted.
package fsroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxLinks bounds symlink chains.
const maxLinks = 8

// Live says whether root means the live system.
func Live(root string) bool { return root == "" || root == "/" }

// Path returns where rel (slash-separated, as on the scanned system) is under root. In a
// captured tree, final symlinks are followed with absolute targets taken inside the tree and
// relative ones kept inside it; a link that would leave the tree yields a path that does not
// exist there, so the read fails as "not found" instead of reading this computer's files.
// It costs one readlink per link followed.
func Path(root, rel string) string {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if Live(root) {
		return p
	}
	root = filepath.Clean(root)
	for range maxLinks {
		target, err := os.Readlink(p)
		if err != nil {
			return p
		}
		if strings.HasPrefix(target, "/") {
			p = filepath.Join(root, filepath.FromSlash(target))
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
		if r, err := filepath.Rel(root, p); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return filepath.Join(root, ".fsroot-escape-refused")
		}
	}
	return p
}

// CheckRoot makes sure root (a captured tree, or "/") is a directory, so a mistyped
// `--root` is a clear error rather than an empty result.
func CheckRoot(root string) error {
	if root == "" {
		return nil
	}
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("read root %s: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("read root %s: not a directory", root)
	}
	return nil
}

// Absent reports errors that mean "no data here" rather than a failure: missing, or not ours
// to read.
func Absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

// ReadFile reads at most max bytes of a file.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// ReadDir lists dir; an absent directory is empty, not an error.
func ReadDir(dir string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !Absent(err) {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return ents, nil
}
