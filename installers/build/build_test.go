package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/macho"
	"debug/pe"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests build real agent binaries and real packages with the real tools, then read the
// packages back with tools that share no code with the writers (dpkg-deb, rpm, msiinfo, 7z,
// cpio, bsdtar). A missing tool skips a test, except under CI (CI=1), where it fails.

var aptPackage = map[string]string{
	"dpkg-deb": "dpkg", "rpm": "rpm", "wixl": "wixl", "msiinfo": "msitools", "msibuild": "msitools", "7z": "p7zip-full",
	"cpio": "cpio", "bsdtar": "libarchive-tools", "osslsigncode": "osslsigncode", "openssl": "openssl",
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("%s is missing (apt-get install %s)", tool, aptPackage[tool])
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// nfpmPath is the nfpm `make tools` installs into the repository's .tools/bin.
func nfpmPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../.tools/bin/nfpm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		msg := "nfpm is missing: GOBIN=$PWD/.tools/bin go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

var testTargets = []string{"linux/amd64", "windows/amd64", "windows/arm64", "darwin/amd64", "darwin/arm64"}

var (
	distOnce sync.Once
	distDir  string
	distErr  error
)

// dist builds the agent for testTargets once per test run, like `make cross` does.
func dist(t *testing.T) string {
	t.Helper()
	distOnce.Do(func() {
		distDir, distErr = os.MkdirTemp("", "farmwatch-dist-")
		if distErr != nil {
			return
		}
		var wg sync.WaitGroup
		errs := make([]error, len(testTargets))
		for i, target := range testTargets {
			goos, arch, _ := strings.Cut(target, "/")
			exe := "farmwatch-agent"
			if goos == "windows" {
				exe += ".exe"
			}
			wg.Go(func() {
				cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=1.0.0",
					"-o", filepath.Join(distDir, goos+"-"+arch, exe), "../../agent/cmd/farmwatch-agent")
				cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+arch, "CGO_ENABLED=0")
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("go build %s: %v\n%s", target, err, out)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				distErr = err
			}
		}
	})
	if distErr != nil {
		t.Fatal(distErr)
	}
	return distDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{distDir, pkgsDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

var testEpoch = time.Unix(1767225600, 0).UTC() // 2026-01-01

// build runs Build for targets into a new directory and returns the files by extension, the
// arm64 ones of a platform with one file per architecture (Windows) as "-arm64" + extension.
func build(t *testing.T, version string, targets []string, edit func(*Options)) map[string]string {
	t.Helper()
	o := Options{
		Version: version, Dist: dist(t), Out: t.TempDir(), Src: "..", Targets: targets,
		NFPM: "nfpm", Wixl: "wixl", Msibuild: "msibuild", Epoch: testEpoch,
	}
	for _, target := range targets {
		switch target[:strings.IndexByte(target, '/')] {
		case "linux":
			o.NFPM = nfpmPath(t)
		case "windows":
			need(t, "wixl", "msibuild")
		}
	}
	if edit != nil {
		edit(&o)
	}
	files, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		ext := filepath.Ext(f)
		if ext == "" {
			ext = filepath.Base(f)
		} else if strings.HasSuffix(strings.TrimSuffix(f, ext), "-arm64") {
			ext = "-arm64" + ext
		}
		out[ext] = f
	}
	return out
}

var (
	pkgsOnce sync.Once
	pkgsDir  string
	pkgs     map[string]string
)

// packages are the packages of testTargets at version 1.0.0, built once for the inspections.
func packages(t *testing.T) map[string]string {
	t.Helper()
	nfpmPath(t)
	need(t, "wixl", "msibuild")
	pkgsOnce.Do(func() {
		var err error
		if pkgsDir, err = os.MkdirTemp("", "farmwatch-packages-"); err != nil {
			t.Fatal(err)
		}
		pkgs = build(t, "v1.0.0", testTargets, func(o *Options) { o.Out = pkgsDir })
	})
	if pkgs == nil {
		t.Fatal("building the packages failed in an earlier test")
	}
	return pkgs
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC") // listings show times in UTC
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// contains fails for each pattern (a regular expression) that text does not match.
func contains(t *testing.T, what, text string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(text) {
			t.Errorf("%s does not match %q:\n%s", what, p, text)
		}
	}
}

func TestPackageVersion(t *testing.T) {
	for _, c := range []struct{ in, want, msi string }{
		{"1.2.3", "1.2.3", "1.2.3"},
		{"v1.2.3", "1.2.3", "1.2.3"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+4.gabc1234.dirty", "1.2.3"},
		{"abc1234", "0.0.0+abc1234", "0.0.0"},
		{"v2.0.1-rc1", "2.0.1+rc1", "2.0.1"},
		{"1.2.70000", "1.2.70000", "1.2.65535"},
	} {
		got, err := PackageVersion(c.in)
		if err != nil || got != c.want {
			t.Errorf("PackageVersion(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if m := msiVersion(got); m != c.msi {
			t.Errorf("msiVersion(%q) = %q, want %q", got, m, c.msi)
		}
	}
	for _, bad := range []string{"", "v", "1.2 3", "1.2.3/4"} {
		if got, err := PackageVersion(bad); err == nil {
			t.Errorf("PackageVersion(%q) = %q, want an error", bad, got)
		}
	}
}

func TestBuildIsReproducible(t *testing.T) {
	a := build(t, "1.0.0", testTargets, nil)
	time.Sleep(1100 * time.Millisecond) // wixl stamps the wall clock to the second
	b := build(t, "1.0.0", testTargets, nil)
	sumsA, _ := os.ReadFile(a["SHA256SUMS"])
	sumsB, _ := os.ReadFile(b["SHA256SUMS"])
	if !bytes.Equal(sumsA, sumsB) {
		t.Fatalf("two builds differ:\n%s\n%s", sumsA, sumsB)
	}
	if n := strings.Count(string(sumsA), "\n"); n != 7 {
		t.Errorf("SHA256SUMS lists %d files, want deb, rpm, two exe, two msi, pkg:\n%s", n, sumsA)
	}
	for _, name := range []string{"farmwatch-agent-1.0.0-x64.msi", "farmwatch-agent-1.0.0-arm64.msi",
		"farmwatch-agent-1.0.0-windows-amd64.exe", "farmwatch-agent-1.0.0-windows-arm64.exe"} {
		contains(t, "SHA256SUMS", string(sumsA), `  `+regexp.QuoteMeta(name)+`\n`)
	}
}

func TestDebContents(t *testing.T) {
	need(t, "dpkg-deb")
	deb := packages(t)[".deb"]
	contains(t, "dpkg-deb -c", output(t, "dpkg-deb", "-c", deb),
		`-rwxr-xr-x root/root .* 2026-01-01 00:00 \./usr/bin/farmwatch-agent\n`,
		`-rw-r--r-- root/root .* \./lib/systemd/system/farmwatch-agent\.service\n`,
		`-rw-r--r-- root/root .* \./etc/farmwatch/agent\.yaml\n`,
		`drwx------ root/root .* \./var/lib/farmwatch/\n`)
	contains(t, "dpkg-deb -I", output(t, "dpkg-deb", "-I", deb),
		`Package: farmwatch-agent`, `Version: 1\.0\.0\n`, `Architecture: amd64`,
		`postinst`, `prerm`, `postrm`)
	contains(t, "conffiles", output(t, "dpkg-deb", "-I", deb, "conffiles"), `^/etc/farmwatch/agent\.yaml\n$`)
	contains(t, "postinst", output(t, "dpkg-deb", "-I", deb, "postinst"),
		`config check`, `\[ -d /run/systemd/system \]`, `systemctl restart farmwatch-agent\.service`, `enroll --state`)
	contains(t, "postrm", output(t, "dpkg-deb", "-I", deb, "postrm"), `purge\)\n\s+rm -rf /var/lib/farmwatch /etc/farmwatch`)

	dir := t.TempDir()
	output(t, "dpkg-deb", "-x", deb, dir)
	unit, err := os.ReadFile(filepath.Join(dir, "lib/systemd/system/farmwatch-agent.service"))
	if err != nil {
		t.Fatal(err)
	}
	contains(t, "unit", string(unit), `(?m)^ExecStart=/usr/bin/farmwatch-agent run$`, `(?m)^Restart=always$`, `(?m)^User=root$`,
		`(?m)^WantedBy=multi-user\.target$`)
	conf, err := os.ReadFile(filepath.Join(dir, "etc/farmwatch/agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	contains(t, "agent.yaml", string(conf), `(?m)^server: ""$`, `(?m)^ca_file: ""$`, `(?m)^enroll_secret_file: ""$`,
		`(?m)^state_dir: /var/lib/farmwatch$`, `(?m)^interval: 5m$`)
}

func TestRPMContents(t *testing.T) {
	need(t, "rpm")
	rpm := packages(t)[".rpm"]
	contains(t, "rpm -qlvp", output(t, "rpm", "-qlvp", rpm),
		`-rwxr-xr-x .* root +root .* /usr/bin/farmwatch-agent\n`,
		`-rw-r--r-- .* root +root .* /usr/lib/systemd/system/farmwatch-agent\.service\n`,
		`drwx------ .* root +root .* /var/lib/farmwatch\n`)
	contains(t, "rpm --configfiles", output(t, "rpm", "-qp", "--configfiles", rpm), `^/etc/farmwatch/agent\.yaml\n$`)
	contains(t, "rpm --qf", output(t, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}\n", rpm), `farmwatch-agent 1\.0\.0 1 x86_64`)
	// %config(noreplace) is file flag 1|16.
	contains(t, "rpm file flags", output(t, "rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS}\n]", rpm), `/etc/farmwatch/agent\.yaml 17\n`)
	contains(t, "rpm --scripts", output(t, "rpm", "-qp", "--scripts", rpm),
		`postinstall scriptlet`, `preuninstall scriptlet`, `postuninstall scriptlet`, `config check`)
}

func TestMSITables(t *testing.T) {
	need(t, "msiinfo")
	for _, c := range []struct{ name, key, template string }{{"x64", ".msi", "x64;1033"}, {"arm64", "-arm64.msi", "Arm64;1033"}} {
		t.Run(c.name, func(t *testing.T) {
			msi := packages(t)[c.key]
			table := func(name string) string { return output(t, "msiinfo", "export", msi, name) }
			// ServiceType 16 own process, StartType 2 automatic, ErrorControl 1 normal.
			contains(t, "ServiceInstall", table("ServiceInstall"), `AgentService\tfarmwatch-agent\tFarmwatch agent\t16\t2\t1\t\t\tLocalSystem\t\trun\tAgentExe\t`)
			// 163 = start on install (1) + stop on install (2) and uninstall (32) + remove on uninstall (128).
			contains(t, "ServiceControl", table("ServiceControl"), `farmwatch-agent\t163\t\t1\tAgentExe`)
			contains(t, "Property", table("Property"),
				`UpgradeCode\t\{6F0A5C2E-3B1D-4E7A-9C55-0B7D2F4A8E11\}`, `ProductVersion\t1\.0\.0\r?\n`,
				`MsiHiddenProperties\tENROLL_SECRET`, `ALLUSERS\t1`)
			contains(t, "Upgrade", table("Upgrade"), `\{6F0A5C2E-3B1D-4E7A-9C55-0B7D2F4A8E11\}\t\t1\.0\.0\t\t1\t\tWIX_UPGRADE_DETECTED`)
			contains(t, "Registry", table("Registry"),
				`SYSTEM\\CurrentControlSet\\Services\\farmwatch-agent\tEnvironment\t\[~\]FARMWATCH_SERVER=\[SERVER\]\[~\]FARMWATCH_ENROLL_SECRET=\[ENROLL_SECRET\]\[~\]FARMWATCH_CA=\[CA_FILE\]\[~\]FARMWATCH_CA_PIN=\[CA_PIN\]\[~\]`,
				`FailureActions\t#x80510100`)
			contains(t, "File", table("File"), `AgentExeFile\tAgentExe\tfarmwatch-agent\.exe\t`, `agent\.yaml`)
			// 256: msidbComponentAttributes64bit, which x64 and Arm64 packages both need.
			contains(t, "Component", table("Component"), `AgentExe\t\{[0-9A-F-]+\}\tINSTALLDIR\t256\t`, `AgentConfig\t\{[0-9A-F-]+\}\tDATADIR\t256\t`)
			contains(t, "Directory", table("Directory"), `ProgramFiles64Folder\tTARGETDIR`)
			sum := output(t, "msiinfo", "suminfo", msi)
			contains(t, "summary", sum, `Template: `+regexp.QuoteMeta(c.template)+`\n`, `Created: Thu Jan  1 00:00:00 2026`,
				`Last saved: Thu Jan  1 00:00:00 2026`, `Subject: Farmwatch agent 1\.0\.0\n`, `Author: Farmwatch\n`)
			// PID_PAGECOUNT, which msiinfo calls Version: the schema. Windows Installer refuses Arm64
			// packages below 500.
			if m := regexp.MustCompile(`(?m)^Version: (\d+) `).FindStringSubmatch(sum); m == nil || atoi(m[1]) < 500 {
				t.Errorf("summary: package schema (page count) below 500:\n%s", sum)
			}
		})
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// TestArm64MSI checks what tells the two MSIs apart: the arm64 one is wixl's x64 package with
// the summary information's Template changed, so everything else must be the x64 MSI's but the
// product and package codes and the agent inside the cabinet.
func TestArm64MSI(t *testing.T) {
	need(t, "msiinfo", "7z")
	p := packages(t)
	x64, arm64 := p[".msi"], p["-arm64.msi"]
	if filepath.Base(x64) != "farmwatch-agent-1.0.0-x64.msi" || filepath.Base(arm64) != "farmwatch-agent-1.0.0-arm64.msi" {
		t.Fatalf("MSIs %q and %q, want farmwatch-agent-1.0.0-x64.msi and farmwatch-agent-1.0.0-arm64.msi", x64, arm64)
	}
	codes := regexp.MustCompile(`(?m)^(Template|Revision number \(UUID\)): .*\n`)
	sumX64, sumArm64 := output(t, "msiinfo", "suminfo", x64), output(t, "msiinfo", "suminfo", arm64)
	if a, b := codes.ReplaceAllString(sumX64, ""), codes.ReplaceAllString(sumArm64, ""); a != b {
		t.Errorf("the summaries differ in more than Template and package code:\n%s\n%s", sumX64, sumArm64)
	}
	revision := regexp.MustCompile(`Revision number \(UUID\): (\{[0-9A-F-]{36}\})\n`)
	rx, ra := revision.FindStringSubmatch(sumX64), revision.FindStringSubmatch(sumArm64)
	if rx == nil || ra == nil || rx[1] == ra[1] {
		t.Errorf("package codes %q and %q: want two different ones", rx, ra)
	}
	product := regexp.MustCompile(`ProductCode\t(\{[0-9A-F-]{36}\})`)
	px := product.FindStringSubmatch(output(t, "msiinfo", "export", x64, "Property"))
	pa := product.FindStringSubmatch(output(t, "msiinfo", "export", arm64, "Property"))
	if px == nil || pa == nil || px[1] == pa[1] {
		t.Errorf("product codes %q and %q: want two different ones", px, pa)
	}

	// The agent in each cabinet, by Go's PE reader: extract the cabinet stream with msiinfo and
	// the file (named by its File table key) with 7z.
	for msi, machine := range map[string]uint16{x64: pe.IMAGE_FILE_MACHINE_AMD64, arm64: pe.IMAGE_FILE_MACHINE_ARM64} {
		dir := t.TempDir()
		cab, err := os.Create(filepath.Join(dir, "agent.cab"))
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := exec.Command("msiinfo", "extract", msi, "agent.cab")
		cmd.Stdout, cmd.Stderr = cab, &stderr
		err = cmd.Run()
		cab.Close()
		if err != nil {
			t.Fatalf("msiinfo extract %s agent.cab: %v\n%s", msi, err, stderr.Bytes())
		}
		output(t, "7z", "x", "-y", "-o"+dir, cab.Name(), "AgentExeFile")
		f, err := pe.Open(filepath.Join(dir, "AgentExeFile"))
		if err != nil {
			t.Fatalf("%s: the agent in the cabinet: %v", filepath.Base(msi), err)
		}
		if f.Machine != machine {
			t.Errorf("%s: the agent is for PE machine %#x, want %#x", filepath.Base(msi), f.Machine, machine)
		}
		f.Close()
	}
}

// TestPkgReadsWithOtherTools lists the .pkg with 7z and bsdtar, extracts it with 7z, and
// reads the payload with GNU cpio: three readers that share nothing with installers/pkgbuild.
func TestPkgReadsWithOtherTools(t *testing.T) {
	need(t, "7z", "cpio")
	pkg := packages(t)[".pkg"]
	contains(t, "7z l", output(t, "7z", "l", pkg), `Distribution\n`, `farmwatch-agent\.pkg/Bom\n`,
		`farmwatch-agent\.pkg/PackageInfo\n`, `farmwatch-agent\.pkg/Payload\n`, `farmwatch-agent\.pkg/Scripts\n`)
	if _, err := exec.LookPath("bsdtar"); err == nil {
		contains(t, "bsdtar -tf", output(t, "bsdtar", "-tf", pkg), `(?m)^farmwatch-agent\.pkg/Payload$`, `(?m)^Distribution$`)
	}
	dir := t.TempDir()
	output(t, "7z", "x", "-y", "-o"+dir, pkg)
	list := func(name string) string {
		f, err := os.Open(filepath.Join(dir, "farmwatch-agent.pkg", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("cpio", "-itv", "--quiet")
		cmd.Stdin = zr
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cpio -it %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	contains(t, "Payload", list("Payload"),
		`-rwxr-xr-x +1 root +root .* \./usr/local/bin/farmwatch-agent\n`,
		`-rw-r--r-- +1 root +root .* \./Library/LaunchDaemons/com\.farmwatch\.agent\.plist\n`)
	contains(t, "Scripts", list("Scripts"), `-rwxr-xr-x .* \./postinstall\n`, `-rwxr-xr-x .* \./preinstall\n`, `\./agent\.yaml\n`)
	// The agent is one universal binary with both slices, as Go's own Mach-O reader sees it.
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	payload, err := os.Open(filepath.Join(dir, "farmwatch-agent.pkg", "Payload"))
	if err != nil {
		t.Fatal(err)
	}
	defer payload.Close()
	zr, err := gzip.NewReader(payload)
	if err != nil {
		t.Fatal(err)
	}
	cpio := exec.Command("cpio", "-idm", "--quiet", "--no-absolute-filenames")
	cpio.Dir, cpio.Stdin = root, zr
	if out, err := cpio.CombinedOutput(); err != nil {
		t.Fatalf("cpio -idm: %v\n%s", err, out)
	}
	fat, err := macho.OpenFat(filepath.Join(root, "usr/local/bin/farmwatch-agent"))
	if err != nil {
		t.Fatalf("the payload's agent is not a universal binary: %v", err)
	}
	defer fat.Close()
	var cpus []string
	for _, a := range fat.Arches {
		cpus = append(cpus, a.Cpu.String())
		if a.Offset%(1<<14) != 0 {
			t.Errorf("%v slice at offset %d, not 16 KiB aligned", a.Cpu, a.Offset)
		}
	}
	if strings.Join(cpus, ",") != "CpuAmd64,CpuArm64" {
		t.Errorf("universal binary slices %v, want amd64 and arm64", cpus)
	}
	dist, _ := os.ReadFile(filepath.Join(dir, "Distribution"))
	contains(t, "Distribution", string(dist), `hostArchitectures="x86_64,arm64"`, `#farmwatch-agent\.pkg</pkg-ref>`, `version="1\.0\.0"`)
	info, _ := os.ReadFile(filepath.Join(dir, "farmwatch-agent.pkg", "PackageInfo"))
	contains(t, "PackageInfo", string(info), `identifier="com\.farmwatch\.agent"`, `install-location="/"`, `<postinstall file="\./postinstall"/>`)
	plist, _ := os.ReadFile("../darwin/com.farmwatch.agent.plist")
	contains(t, "plist", string(plist), `<key>KeepAlive</key>\s*<true/>`, `<key>RunAtLoad</key>\s*<true/>`)
	post, _ := os.ReadFile("../darwin/postinstall")
	contains(t, "postinstall", string(post), `launchctl bootstrap system "\$PLIST"`)
}

// TestAuthenticodeSigning signs with a throwaway self-signed certificate and checks both
// signatures with osslsigncode verify against it.
func TestAuthenticodeSigning(t *testing.T) {
	need(t, "openssl", "osslsigncode", "wixl")
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	output(t, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
		"-subj", "/CN=Farmwatch test code signing", "-addext", "extendedKeyUsage=codeSigning",
		"-keyout", key, "-out", cert)
	files := build(t, "1.0.0", []string{"windows/amd64", "windows/arm64"}, func(o *Options) {
		o.Epoch = time.Now().Add(-time.Hour) // within the certificate's validity
		o.Sign = &Signer{Cert: cert, Key: key, Tool: "osslsigncode"}
	})
	for _, ext := range []string{".exe", ".msi", "-arm64.exe", "-arm64.msi"} {
		out, err := exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", files[ext]).CombinedOutput()
		if err != nil {
			t.Fatalf("osslsigncode verify %s: %v\n%s", ext, err, out)
		}
		contains(t, "verify "+ext, string(out), `Signature verification: ok`, `Farmwatch test code signing`)
	}
	unsigned := build(t, "1.0.0", []string{"windows/amd64"}, nil)
	if out, err := exec.Command("osslsigncode", "verify", "-in", unsigned[".msi"]).CombinedOutput(); err == nil {
		t.Errorf("an unsigned build verifies:\n%s", out)
	}
}

func TestSignerFromEnv(t *testing.T) {
	t.Setenv("FARMWATCH_SIGN_CERT", "")
	t.Setenv("FARMWATCH_SIGN_KEY", "")
	if s, err := SignerFromEnv(); s != nil || err != nil {
		t.Errorf("no variables: %v, %v; want no signer", s, err)
	}
	t.Setenv("FARMWATCH_SIGN_CERT", "cert.pem")
	if _, err := SignerFromEnv(); err == nil {
		t.Error("certificate without key: no error")
	}
	t.Setenv("FARMWATCH_SIGN_KEY", "key.pem")
	if s, err := SignerFromEnv(); err != nil || s.Cert != "cert.pem" || s.Key != "key.pem" {
		t.Errorf("both set: %+v, %v", s, err)
	}
}
