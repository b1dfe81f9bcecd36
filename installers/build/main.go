// Command build makes the agent's installer packages from the binaries of `make cross`:
//
//	go run ./installers/build -version 1.2.3 -dist dist -out dist/packages
//
// For each target it writes, into -out:
//
//	linux:   farmwatch-agent_VERSION_ARCH.deb and farmwatch-agent-VERSION-1.RPMARCH.rpm (nfpm)
//	windows: farmwatch-agent-VERSION-windows-ARCH.exe and farmwatch-agent-VERSION-x64.msi (amd64) or
//	         farmwatch-agent-VERSION-arm64.msi (arm64) (wixl; msibuild marks the arm64 one Arm64)
//	darwin:  farmwatch-agent-VERSION.pkg with a universal binary of every darwin target
//	         (farmwatch-agent-VERSION-ARCH.pkg when there is one) (installers/pkgbuild)
//
// and SHA256SUMS. Builds are reproducible: every timestamp is SOURCE_DATE_EPOCH, else the
// commit time of HEAD, and every file is owned by root. With FARMWATCH_SIGN_CERT and
// FARMWATCH_SIGN_KEY (PEM; FARMWATCH_SIGN_PASS for an encrypted key, FARMWATCH_SIGN_TIMESTAMP
// for an RFC 3161 server) the Windows executable and MSI are Authenticode-signed by osslsigncode.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options says what to build from what.
type Options struct {
	Version string   // release version; a leading "v" and git describe suffixes are normalised
	Dist    string   // holds OS-ARCH/farmwatch-agent[.exe], as `make cross` writes it
	Out     string   // packages go here
	Src     string   // the installers/ directory (templates, scripts, unit, plist)
	Targets []string // "linux/amd64", ...
	// LinuxConfig replaces installers/linux/agent.yaml in the .deb/.rpm (a pre-configured build).
	LinuxConfig string
	NFPM        string // nfpm binary
	Wixl        string // wixl binary
	Msibuild    string // msibuild binary (msitools), for the arm64 MSI
	Epoch       time.Time
	Sign        *Signer // nil: unsigned
	Log         *slog.Logger
}

// DefaultTargets are every platform of `make cross`.
var DefaultTargets = []string{"linux/amd64", "linux/arm64", "windows/amd64", "windows/arm64", "darwin/amd64", "darwin/arm64"}

func main() {
	o := Options{Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	targets := flag.String("targets", strings.Join(DefaultTargets, ","), "comma-separated OS/ARCH list")
	flag.StringVar(&o.Version, "version", "", "package version (required), e.g. 1.2.3 or the output of git describe")
	flag.StringVar(&o.Dist, "dist", "dist", "directory with OS-ARCH/farmwatch-agent[.exe] (make cross)")
	flag.StringVar(&o.Out, "out", "dist/packages", "output directory")
	flag.StringVar(&o.Src, "src", "installers", "the installers/ source directory")
	flag.StringVar(&o.LinuxConfig, "linux-config", "", "agent.yaml to ship in the .deb/.rpm instead of installers/linux/agent.yaml")
	flag.StringVar(&o.NFPM, "nfpm", ".tools/bin/nfpm", "nfpm binary (GOBIN=.tools/bin go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2)")
	flag.StringVar(&o.Wixl, "wixl", "wixl", "wixl binary (Debian package wixl)")
	flag.StringVar(&o.Msibuild, "msibuild", "msibuild", "msibuild binary (Debian package msitools), for the arm64 MSI")
	flag.Parse()
	o.Targets = strings.Split(*targets, ",")
	var err error
	if o.Epoch, err = sourceDateEpoch(); err != nil {
		fail(err)
	}
	if o.Sign, err = SignerFromEnv(); err != nil {
		fail(err)
	}
	files, err := Build(context.Background(), o)
	if err != nil {
		fail(err)
	}
	for _, f := range files {
		fmt.Println(f)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "installers/build: %v\n", err)
	os.Exit(1)
}

// sourceDateEpoch is SOURCE_DATE_EPOCH, else the commit time of HEAD.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		out, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no git commit time: %w", err)
		}
		s = strings.TrimSpace(string(out))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// Build writes the packages for o.Targets and SHA256SUMS; it returns the paths written.
func Build(ctx context.Context, o Options) ([]string, error) {
	if o.Version == "" {
		return nil, errors.New("-version is required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Msibuild == "" {
		o.Msibuild = "msibuild"
	}
	version, err := PackageVersion(o.Version)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "farmwatch-installers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	var written, darwinArchs, darwinBins []string
	for _, t := range o.Targets {
		goos, arch, ok := strings.Cut(strings.TrimSpace(t), "/")
		if !ok {
			return nil, fmt.Errorf("target %q: want OS/ARCH", t)
		}
		exe := "farmwatch-agent"
		if goos == "windows" {
			exe += ".exe"
		}
		bin := filepath.Join(o.Dist, goos+"-"+arch, exe)
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("target %s: %w (run make cross first)", t, err)
		}
		tw := filepath.Join(work, goos+"-"+arch)
		if err := os.MkdirAll(tw, 0o755); err != nil {
			return nil, err
		}
		var files []string
		switch goos {
		case "linux":
			files, err = buildLinux(ctx, o, version, arch, bin, tw)
		case "windows":
			files, err = buildWindows(ctx, o, version, arch, bin, tw)
		case "darwin": // one package for every architecture, after the loop
			darwinArchs, darwinBins = append(darwinArchs, arch), append(darwinBins, bin)
		default:
			err = fmt.Errorf("no installer for %s", goos)
		}
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t, err)
		}
		for _, f := range files {
			o.Log.Info("built", "file", f)
		}
		written = append(written, files...)
	}
	if len(darwinArchs) > 0 {
		files, err := buildDarwin(o, version, darwinArchs, darwinBins)
		if err != nil {
			return nil, fmt.Errorf("darwin: %w", err)
		}
		o.Log.Info("built", "file", files[0])
		written = append(written, files...)
	}
	sums, err := writeSums(o.Out, written)
	if err != nil {
		return nil, err
	}
	return append(written, sums), nil
}

var versionRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*([.+~-][0-9A-Za-z.+~-]+)?$`)

// PackageVersion turns a release version or `git describe` output into one that deb, rpm,
// MSI and pkg all order correctly: "v1.2.3" -> "1.2.3", "v1.2.3-4-gabc-dirty" ->
// "1.2.3+4.gabc.dirty", "abc1234" (no tag) -> "0.0.0+abc1234".
func PackageVersion(v string) (string, error) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if v == "" {
		return "", errors.New("empty version")
	}
	if v[0] < '0' || v[0] > '9' {
		v = "0.0.0+" + v
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v = v[:i] + "+" + strings.ReplaceAll(v[i+1:], "-", ".")
	}
	if !versionRE.MatchString(v) {
		return "", fmt.Errorf("version %q: want digits and dots, then letters, digits, dots or +", v)
	}
	return v, nil
}

// msiVersion is the numeric major.minor.build an MSI ProductVersion allows (255.255.65535).
func msiVersion(v string) string {
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '+' || r == '~' })
	limits := []int{255, 255, 65535}
	out := make([]string, 3)
	for i := range out {
		n := 0
		if i < len(parts) {
			n, _ = strconv.Atoi(parts[i])
		}
		out[i] = strconv.Itoa(min(n, limits[i]))
	}
	return strings.Join(out, ".")
}

// run runs a tool, returning its combined output in the error when it fails.
func run(ctx context.Context, env []string, name string, args ...string) error {
	return runIn(ctx, "", env, name, args...)
}

// runIn is run in directory dir.
func runIn(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// copyFile copies src to dst with mode and the given modification time.
func copyFile(src, dst string, mode os.FileMode, mtime time.Time) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(dst, mode); err != nil {
		return err
	}
	return os.Chtimes(dst, mtime, mtime)
}

func writeSums(dir string, files []string) (string, error) {
	var b strings.Builder
	sorted := slices.Clone(files)
	slices.Sort(sorted)
	for _, f := range sorted {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), filepath.Base(f))
	}
	p := filepath.Join(dir, "SHA256SUMS")
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}
