package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// maxFile bounds the read of one unit or plist file; real ones are a few
// KiB.
const maxFile = 1 << 20

// readTree reads a captured tree with both file-based readers. It builds on
// every OS.
func readTree(ctx context.Context, root string) ([]Service, error) {
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("read root %s: %w", root, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("read root %s: not a directory", root)
	}
	svcs, err := systemdUnits(ctx, root)
	jobs, lerr := launchdJobs(ctx, root)
	return append(svcs, jobs...), errors.Join(err, lerr)
}

// absent reports errors that mean "no data here" rather than a failure.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

// inTree returns the path of rel (slash-separated, as on the target system)
// under root, following final symlinks whose absolute targets must resolve
// inside the tree rather than on this computer.
func inTree(root, rel string) string {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if root == "/" || root == "" {
		return p
	}
	for range 8 {
		target, err := os.Readlink(p)
		if err != nil {
			return p
		}
		if strings.HasPrefix(target, "/") {
			p = filepath.Join(root, filepath.FromSlash(target))
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
	}
	return p
}

// readSmall reads at most maxFile bytes of a file.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// readDir lists dir; an absent directory is empty.
func readDir(dir string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !absent(err) {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return ents, nil
}

// clean bounds a field from an untrusted file: valid UTF-8, no control
// characters, trimmed, at most 4 KiB (cut at a character boundary).
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimSpace(s)
	if len(s) > 4096 {
		n := 4096
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = strings.TrimSpace(s[:n])
	}
	return s
}
