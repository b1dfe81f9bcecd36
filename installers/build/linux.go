package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"
)

// nfpmFields fill installers/linux/nfpm.yaml.tmpl.
type nfpmFields struct {
	Arch, Version, MTime string
	Binary, Config, Dir  string // absolute paths
}

// buildLinux writes the .deb and the .rpm for one architecture with nfpm.
func buildLinux(ctx context.Context, o Options, version, arch, bin, work string) ([]string, error) {
	dir, err := filepath.Abs(filepath.Join(o.Src, "linux"))
	if err != nil {
		return nil, err
	}
	config := o.LinuxConfig
	if config == "" {
		config = filepath.Join(dir, "agent.yaml")
	}
	// nfpm takes the mode from file_info and the time from mtime, but stage the inputs anyway
	// so nothing of the build machine's files can leak into the package.
	stagedBin, stagedConfig := filepath.Join(work, "farmwatch-agent"), filepath.Join(work, "agent.yaml")
	if err := copyFile(bin, stagedBin, 0o755, o.Epoch); err != nil {
		return nil, err
	}
	if err := copyFile(config, stagedConfig, 0o644, o.Epoch); err != nil {
		return nil, err
	}
	tmpl, err := template.ParseFiles(filepath.Join(dir, "nfpm.yaml.tmpl"))
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(work, "nfpm.yaml")
	f, err := os.Create(cfgPath)
	if err != nil {
		return nil, err
	}
	err = tmpl.Execute(f, nfpmFields{
		Arch: arch, Version: version, MTime: o.Epoch.Format(time.RFC3339),
		Binary: stagedBin, Config: stagedConfig, Dir: dir,
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("nfpm.yaml: %w", err)
	}
	rpmArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch]
	if rpmArch == "" {
		rpmArch = arch
	}
	outputs := []struct{ packager, name string }{
		{"deb", fmt.Sprintf("farmwatch-agent_%s_%s.deb", version, arch)},
		{"rpm", fmt.Sprintf("farmwatch-agent-%s-1.%s.rpm", version, rpmArch)},
	}
	env := []string{fmt.Sprintf("SOURCE_DATE_EPOCH=%d", o.Epoch.Unix())}
	var files []string
	for _, out := range outputs {
		target := filepath.Join(o.Out, out.name)
		if err := run(ctx, env, o.NFPM, "package", "--config", cfgPath, "--packager", out.packager, "--target", target); err != nil {
			return nil, err
		}
		files = append(files, target)
	}
	return files, nil
}
