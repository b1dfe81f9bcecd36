//go:build linux

package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// The install tests run dpkg on this machine, so they need root and a machine where Farmwatch
// is not installed; they restore that state (dpkg --purge) even when they fail.

func needRootDpkg(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the package install tests must run as root under CI")
		}
		t.Skip("not root: the package install tests run dpkg -i on this machine")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the test packages are linux/amd64, this is %s", runtime.GOARCH)
	}
	need(t, "dpkg", "dpkg-query")
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "farmwatch-agent").Output(); err == nil && len(out) > 0 && !strings.Contains(string(out), "not-installed") {
		t.Skipf("farmwatch-agent is installed on this machine (%s): not touching it", out)
	}
	for _, p := range []string{"/etc/farmwatch", "/var/lib/farmwatch", "/usr/bin/farmwatch-agent"} {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists on this machine: not touching it", p)
		}
	}
	t.Cleanup(func() {
		if out, err := dpkg("--purge", "farmwatch-agent"); err != nil {
			t.Errorf("cleanup: dpkg --purge: %v\n%s", err, out)
		}
		for _, p := range []string{"/etc/farmwatch", "/var/lib/farmwatch", "/usr/bin/farmwatch-agent", "/lib/systemd/system/farmwatch-agent.service"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("cleanup: %s is left after dpkg --purge; removing it", p)
				os.RemoveAll(p)
			}
		}
	})
}

func dpkg(args ...string) (string, error) {
	cmd := exec.Command("dpkg", append([]string{"--force-confdef", "--force-confold"}, args...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustDpkg(t *testing.T, args ...string) string {
	t.Helper()
	out, err := dpkg(args...)
	if err != nil {
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// checkFile fails unless path has the permission bits and is owned by root:root.
func checkFile(t *testing.T, path string, perm fs.FileMode, dir bool) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if st.Mode().Perm() != perm || st.IsDir() != dir {
		t.Errorf("%s: mode %v, want %v (directory %v)", path, st.Mode(), perm, dir)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && (sys.Uid != 0 || sys.Gid != 0) {
		t.Errorf("%s: owned by %d:%d, want root:root", path, sys.Uid, sys.Gid)
	}
}

func gone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists (%v)", p, err)
		}
	}
}

func TestDebInstallUpgradeRemovePurge(t *testing.T) {
	needRootDpkg(t)
	v1 := build(t, "1.0.0", []string{"linux/amd64"}, nil)[".deb"]
	v2 := build(t, "1.0.1", []string{"linux/amd64"}, nil)[".deb"]

	out := mustDpkg(t, "-i", v1)
	if _, err := os.Stat("/run/systemd/system"); err != nil && !strings.Contains(out, "systemd is not running here") {
		t.Errorf("without systemd the install should say it did not start the service:\n%s", out)
	}
	checkFile(t, "/usr/bin/farmwatch-agent", 0o755, false)
	checkFile(t, "/lib/systemd/system/farmwatch-agent.service", 0o644, false)
	checkFile(t, "/etc/farmwatch", 0o755, true)
	checkFile(t, "/etc/farmwatch/agent.yaml", 0o644, false)
	checkFile(t, "/var/lib/farmwatch", 0o700, true)
	if v, err := exec.Command("/usr/bin/farmwatch-agent", "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(v), "farmwatch-agent 1.0.0 linux/amd64") {
		t.Errorf("farmwatch-agent version: %v: %s", err, v)
	}
	// status answers with an LSB code: 0 running, 3 stopped, 4 unknown or not installed (the
	// service manager cannot tell without a running systemd, as in a CI container).
	st := exec.Command("/usr/bin/farmwatch-agent", "status")
	sout, _ := st.CombinedOutput()
	code := st.ProcessState.ExitCode()
	if _, err := os.Stat("/run/systemd/system"); err == nil && code != 0 {
		t.Errorf("farmwatch-agent status under systemd: exit %d: %s", code, sout)
	} else if code != 0 && code != 3 && code != 4 {
		t.Errorf("farmwatch-agent status: exit %d: %s", code, sout)
	}
	t.Logf("farmwatch-agent status: exit %d: %s", code, strings.TrimSpace(string(sout)))

	// What an enrolled agent and an admin leave behind must survive the upgrade.
	marker := "/var/lib/farmwatch/agent.json"
	if err := os.WriteFile(marker, []byte(`{"device_id":"test"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile("/etc/farmwatch/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := append(conf, "# edited by the admin\n"...)
	if err := os.WriteFile("/etc/farmwatch/agent.yaml", edited, 0o644); err != nil {
		t.Fatal(err)
	}

	mustDpkg(t, "-i", v2)
	if v, _ := exec.Command("dpkg-query", "-W", "-f", "${Version} ${Status}", "farmwatch-agent").Output(); string(v) != "1.0.1 install ok installed" {
		t.Errorf("after the upgrade dpkg-query says %q", v)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != `{"device_id":"test"}` {
		t.Errorf("the upgrade lost the state: %q, %v", b, err)
	}
	if b, _ := os.ReadFile("/etc/farmwatch/agent.yaml"); string(b) != string(edited) {
		t.Errorf("the upgrade replaced the edited agent.yaml:\n%s", b)
	}
	checkFile(t, "/var/lib/farmwatch", 0o700, true)

	mustDpkg(t, "--remove", "farmwatch-agent")
	gone(t, "/usr/bin/farmwatch-agent", "/lib/systemd/system/farmwatch-agent.service")
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("dpkg --remove deleted the state: %v", err)
	}
	if _, err := os.Stat("/etc/farmwatch/agent.yaml"); err != nil {
		t.Errorf("dpkg --remove deleted the configuration: %v", err)
	}

	mustDpkg(t, "--purge", "farmwatch-agent")
	gone(t, "/var/lib/farmwatch", "/etc/farmwatch")
}

func TestDebInstallRefusesServerWithoutCA(t *testing.T) {
	needRootDpkg(t)
	bad := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(bad, []byte("server: collector.example.com:8443\nca_file: /nonexistent/farmwatch-ca.pem\ninterval: 5m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deb := build(t, "1.0.0", []string{"linux/amd64"}, func(o *Options) { o.LinuxConfig = bad })[".deb"]
	out, err := dpkg("-i", deb)
	if err == nil {
		t.Fatalf("dpkg -i succeeded with server set and the CA missing:\n%s", out)
	}
	contains(t, "dpkg -i output", out, `/nonexistent/farmwatch-ca\.pem does not exist`, `NOT started`)
	if st, _ := exec.Command("dpkg-query", "-W", "-f", "${Status}", "farmwatch-agent").Output(); !strings.Contains(string(st), "half-configured") {
		t.Errorf("package status %q, want half-configured", st)
	}
}
