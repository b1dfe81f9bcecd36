// Command build regenerates catalog/data/catalog.json and docs/catalog.md from the vendored
// LOLRMM snapshot (catalog/lolrmm) and the curated overrides (catalog/overrides).
//
//	go run ./catalog/build        # from anywhere inside the repository; `make catalog`
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/farmwatch/farmwatch/catalog/internal/builder"
)

func main() {
	root := flag.String("root", "", "repository root (default: the directory holding go.mod, searched upwards)")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "catalog build:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	out, err := builder.Build(os.DirFS(filepath.Join(root, "catalog")))
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{filepath.Join(root, "catalog", "data", "catalog.json"), out.Catalog},
		{filepath.Join(root, "docs", "catalog.md"), out.Docs},
	} {
		if err := writeIfChanged(f.path, f.data); err != nil {
			return err
		}
	}
	return nil
}

// writeIfChanged leaves an up-to-date file untouched (its mtime too) and replaces others
// atomically.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory; pass -root")
		}
		dir = parent
	}
}
