package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/farmwatch/farmwatch/installers/pkgbuild"
)

// buildDarwin writes one flat .pkg for the given architectures: the agent in /usr/local/bin
// (a universal binary when there are several), its launch daemon, and the scripts that load it
// (with the default agent.yaml beside them). bins[i] is the binary for archs[i].
func buildDarwin(o Options, version string, archs, bins []string) ([]string, error) {
	var hostArchs []string
	var thin [][]byte
	for i, arch := range archs {
		h := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[arch]
		if h == "" {
			return nil, fmt.Errorf("no macOS architecture for %s", arch)
		}
		hostArchs = append(hostArchs, h)
		b, err := os.ReadFile(bins[i])
		if err != nil {
			return nil, err
		}
		thin = append(thin, b)
	}
	agent := thin[0]
	name := fmt.Sprintf("farmwatch-agent-%s-%s.pkg", version, archs[0])
	if len(thin) > 1 {
		var err error
		if agent, err = universalBinary(thin...); err != nil {
			return nil, err
		}
		name = fmt.Sprintf("farmwatch-agent-%s.pkg", version)
	}
	dir := filepath.Join(o.Src, "darwin")
	data := map[string][]byte{}
	for _, f := range []string{"com.farmwatch.agent.plist", "preinstall", "postinstall", "agent.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		data[f] = b
	}
	p := pkgbuild.Package{
		Identifier: "com.farmwatch.agent",
		Name:       "farmwatch-agent",
		Version:    version,
		Title:      "Farmwatch agent",
		HostArch:   strings.Join(hostArchs, ","),
		MTime:      o.Epoch,
		Payload: []pkgbuild.File{
			{Path: "/usr/local/bin/farmwatch-agent", Mode: 0o755, Data: agent},
			{Path: "/Library/LaunchDaemons/com.farmwatch.agent.plist", Mode: 0o644, Data: data["com.farmwatch.agent.plist"]},
		},
		Scripts: []pkgbuild.File{
			{Path: "preinstall", Mode: 0o755, Data: data["preinstall"]},
			{Path: "postinstall", Mode: 0o755, Data: data["postinstall"]},
			{Path: "agent.yaml", Mode: 0o644, Data: data["agent.yaml"]},
		},
	}
	target := filepath.Join(o.Out, name)
	f, err := os.Create(target)
	if err != nil {
		return nil, err
	}
	if err := p.Write(f); err != nil {
		f.Close()
		return nil, err
	}
	return []string{target}, f.Close()
}
