package service

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestListDebianTree(t *testing.T) {
	got, err := List(context.Background(), "testdata/debian")
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{
		{Name: "anydesk.service", DisplayName: "AnyDesk", Manager: "systemd", Program: "/usr/bin/anydesk", Args: []string{"--service"},
			Enabled: true, Path: "/etc/systemd/system/anydesk.service", User: "root"},
		// Template, enabled through its getty@tty1 instance.
		{Name: "getty@.service", DisplayName: "Getty on %I", Manager: "systemd", Program: "/sbin/agetty",
			Args: []string{"-o", `-p -- \u`, "--noclear", "-", "$TERM"}, Enabled: true, Path: "/lib/systemd/system/getty@.service"},
		// Not linked from a .wants directory.
		{Name: "rustdesk.service", DisplayName: "RustDesk", Manager: "systemd", Program: "/usr/bin/rustdesk", Args: []string{"--service"},
			Path: "/etc/systemd/system/rustdesk.service", User: "root"},
		// An absolute symlink into /opt, resolved inside the tree.
		{Name: "teamviewerd.service", DisplayName: "TeamViewer remote control daemon", Manager: "systemd",
			Program: "/opt/teamviewer/tv_bin/teamviewerd", Args: []string{"-f"}, Enabled: true, Path: "/etc/systemd/system/teamviewerd.service"},
		// Masked in /etc: the /usr/lib file, never enabled.
		{Name: "x11vnc.service", DisplayName: "x11vnc server for the login display", Manager: "systemd", Program: "/usr/bin/x11vnc",
			Args:    []string{"-auth", "guess", "-forever", "-loop", "-noxdamage", "-repeat", "-rfbauth", "/etc/x11vnc.pass", "-rfbport", "5900", "-shared"},
			Enabled: false, Path: "/usr/lib/systemd/system/x11vnc.service"},
		{Name: "xrdp.service", DisplayName: "xrdp daemon", Manager: "systemd", Program: "/usr/sbin/xrdp", Args: []string{"$XRDP_OPTIONS"},
			Enabled: true, Path: "/lib/systemd/system/xrdp.service", User: "xrdp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func TestListMacTree(t *testing.T) {
	got, err := List(context.Background(), "testdata/macos")
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{
		{Name: "com.apple.screensharing", Manager: "launchd",
			Program: "/System/Library/CoreServices/RemoteManagement/screensharingd.bundle/Contents/MacOS/screensharingd",
			Enabled: true, Path: "/System/Library/LaunchDaemons/com.apple.screensharing.plist", User: "root"},
		// Program wins over ProgramArguments[0]; binary plist.
		{Name: "com.carriez.RustDesk_service", Manager: "launchd", Program: "/bin/sh",
			Args: []string{"-c", "/Applications/RustDesk.app/Contents/MacOS/service"}, Enabled: true,
			Path: "/Library/LaunchDaemons/com.carriez.RustDesk_service.plist", User: "root"},
		// A user's own agent runs as that user.
		{Name: "com.example.updater", Manager: "launchd", Program: "/Users/alice/bin/updater", Args: []string{"--quiet"},
			Enabled: true, Path: "/Users/alice/Library/LaunchAgents/com.example.updater.plist", User: "alice"},
		// Disabled by the overrides database.
		{Name: "com.philandro.anydesk.Frontend", Manager: "launchd", Program: "/Applications/AnyDesk.app/Contents/MacOS/AnyDesk",
			Args: []string{"--control"}, Path: "/Library/LaunchAgents/com.philandro.anydesk.Frontend.plist"},
		{Name: "com.philandro.anydesk.service", Manager: "launchd", Program: "/Applications/AnyDesk.app/Contents/MacOS/AnyDesk",
			Args: []string{"--service"}, Enabled: true, Path: "/Library/LaunchDaemons/com.philandro.anydesk.service.plist"},
		// Disabled in its own plist; the label differs from the file name.
		{Name: "com.teamviewer.service", Manager: "launchd", Program: "/Applications/TeamViewer.app/Contents/Library/TeamViewer_Service",
			Path: "/Library/LaunchDaemons/com.teamviewer.teamviewer_service.plist"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func TestListMissingRoot(t *testing.T) {
	if _, err := List(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("List(missing root) returned no error")
	}
}

func TestParseUnit(t *testing.T) {
	tests := []struct {
		in   string
		want unit
	}{
		{"[Service]\nExecStart=@/usr/sbin/sshd sshd -D\n", unit{program: "/usr/sbin/sshd", args: []string{"-D"}}},
		{"[Service]\nExecStart=!!/usr/bin/x\n", unit{program: "/usr/bin/x"}},
		{"[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n", unit{program: "/bin/a"}},
		// An empty ExecStart= resets (as drop-ins do).
		{"[Service]\nExecStart=/bin/a\nExecStart=\nExecStart=/bin/b 1\n", unit{program: "/bin/b", args: []string{"1"}}},
		{"[Service]\nExecStart=/bin/sh -c \"echo hi; sleep 1\" ; /bin/next\n", unit{program: "/bin/sh", args: []string{"-c", "echo hi; sleep 1"}}},
		// Keys of other sections do not count.
		{"[Install]\nUser=nobody\nDescription=x\n[Unit]\n# comment\nDescription = Real \n", unit{description: "Real"}},
		{"[Service]\nExecStart='/opt/my app/bin' --flag\n", unit{program: "/opt/my app/bin", args: []string{"--flag"}}},
	}
	for _, tt := range tests {
		if got := parseUnit([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseUnit(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestSplitImagePath(t *testing.T) {
	tests := []struct {
		in      string
		program string
		args    []string
	}{
		{`"C:\Program Files (x86)\AnyDesk\AnyDesk.exe" --service`, `C:\Program Files (x86)\AnyDesk\AnyDesk.exe`, []string{"--service"}},
		{`"C:\Program Files\TeamViewer\TeamViewer_Service.exe"`, `C:\Program Files\TeamViewer\TeamViewer_Service.exe`, nil},
		{`C:\Windows\system32\svchost.exe -k NetworkService -p`, `C:\Windows\system32\svchost.exe`, []string{"-k", "NetworkService", "-p"}},
		// Unquoted path with spaces: up to the first .exe.
		{`C:\Program Files\RustDesk\rustdesk.exe --service`, `C:\Program Files\RustDesk\rustdesk.exe`, []string{"--service"}},
		{`C:\Program Files\My.exeTool\x.exe -a`, `C:\Program Files\My.exeTool\x.exe`, []string{"-a"}},
		{`"C:\x\svc.exe" -config "C:\Program Files\x\a b.ini" -e \"q\"`, `C:\x\svc.exe`, []string{"-config", `C:\Program Files\x\a b.ini`, "-e", `"q"`}},
		{`"C:\x\svc.exe" "C:\dir\\" next`, `C:\x\svc.exe`, []string{`C:\dir\`, "next"}},
		{`\SystemRoot\System32\drivers\x.sys`, `\SystemRoot\System32\drivers\x.sys`, nil},
		{`"unterminated`, "unterminated", nil},
	}
	for _, tt := range tests {
		p, a := splitImagePath(tt.in)
		if p != tt.program || !reflect.DeepEqual(a, tt.args) {
			t.Errorf("splitImagePath(%q) = %q, %q; want %q, %q", tt.in, p, a, tt.program, tt.args)
		}
	}
}

func TestListLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live test is for linux")
	}
	got, err := List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir("/lib/systemd/system")
	var files int
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".service") {
			files++
		}
	}
	if files > 0 && len(got) == 0 {
		t.Fatalf("List() found no units; /lib/systemd/system has %d", files)
	}
	for _, s := range got {
		if s.Manager != "systemd" || !strings.HasSuffix(s.Name, ".service") || s.Running {
			t.Errorf("unexpected %+v", s)
		}
	}
}

func BenchmarkList(b *testing.B) {
	for _, root := range []string{"", "testdata/debian", "testdata/macos"} {
		b.Run("root="+root, func(b *testing.B) {
			if root == "" && runtime.GOOS != "linux" {
				b.Skip("live only on linux here")
			}
			for b.Loop() {
				if _, err := List(context.Background(), root); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzParseUnit(f *testing.F) {
	for _, file := range []string{"testdata/debian/etc/systemd/system/anydesk.service", "testdata/debian/lib/systemd/system/getty@.service",
		"testdata/debian/usr/lib/systemd/system/x11vnc.service"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u := parseUnit(b)
		if len(u.args) > 255 {
			t.Fatalf("%d args", len(u.args))
		}
		for _, s := range append([]string{u.program, u.description, u.user}, u.args...) {
			if s != clean(s) {
				t.Fatalf("unclean %q", s)
			}
		}
	})
}

func FuzzSplitImagePath(f *testing.F) {
	f.Add(`"C:\Program Files (x86)\AnyDesk\AnyDesk.exe" --service`)
	f.Add(`C:\Program Files\RustDesk\rustdesk.exe --service "a \"b\"" c\\\"d`)
	f.Fuzz(func(t *testing.T, s string) {
		p, args := splitImagePath(s)
		if p != clean(p) || len(args) > 256 {
			t.Fatalf("splitImagePath(%q) = %q, %d args", s, p, len(args))
		}
	})
}

func dump(svcs []Service) string {
	var sb strings.Builder
	for _, s := range svcs {
		sb.WriteString("\t" + s.Manager + " | " + s.Name + " | " + s.DisplayName + " | " + s.Program + " | " + strings.Join(s.Args, ",") +
			" | " + map[bool]string{true: "enabled", false: "disabled"}[s.Enabled] + " | " + s.Path + " | " + s.User + "\n")
	}
	return sb.String()
}
