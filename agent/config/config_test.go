package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func source(t *testing.T, srcs []Source, key string) Source {
	t.Helper()
	for _, s := range srcs {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no source for %s", key)
	return Source{}
}

// noManaged keeps the test host's own managed preferences (on a Mac) out of the tests.
func noManaged(t *testing.T) string { return filepath.Join(t.TempDir(), "none.plist") }

func TestPrecedenceFileEnvFlags(t *testing.T) {
	file := "testdata/agent.yaml"
	state := t.TempDir()
	cases := []struct {
		name     string
		env      map[string]string
		flags    []Flag
		server   string
		from     string
		interval time.Duration
	}{
		{name: "file over defaults", server: "collector.example.com:8443", from: file + ":2", interval: 10 * time.Minute},
		{name: "environment over file", env: map[string]string{"FARMWATCH_SERVER": "env.example.com:1", "FARMWATCH_INTERVAL": "20m"},
			server: "env.example.com:1", from: "environment FARMWATCH_SERVER", interval: 20 * time.Minute},
		{name: "flag over environment", env: map[string]string{"FARMWATCH_SERVER": "env.example.com:1"},
			flags:  []Flag{{Key: "server", Name: "--server", Value: "flag.example.com:2"}},
			server: "flag.example.com:2", from: "flag --server", interval: 10 * time.Minute},
		{name: "empty variable is unset", env: map[string]string{"FARMWATCH_SERVER": ""},
			server: "collector.example.com:8443", from: file + ":2", interval: 10 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{"FARMWATCH_STATE_DIR": state}
			for k, v := range tc.env {
				e[k] = v
			}
			c, srcs, err := Load(Options{File: file, ManagedPrefs: noManaged(t), Getenv: env(e), Flags: tc.flags})
			if err != nil {
				t.Fatal(err)
			}
			if c.Server != tc.server || c.Interval != tc.interval {
				t.Errorf("server %q interval %s, want %q %s", c.Server, c.Interval, tc.server, tc.interval)
			}
			if got := source(t, srcs, "server").From; got != tc.from {
				t.Errorf("server from %q, want %q", got, tc.from)
			}
			// Values the file does not set keep their defaults, and say so.
			if c.Heartbeat != time.Minute || source(t, srcs, "heartbeat").From != "default" {
				t.Errorf("heartbeat %s from %q, want the 1m default", c.Heartbeat, source(t, srcs, "heartbeat").From)
			}
			if c.Sniff || c.LogLevel != "warn" {
				t.Errorf("sniff %v log %q, want the file's false, warn", c.Sniff, c.LogLevel)
			}
		})
	}
}

func TestManagedPreferencesBetweenFileAndEnvironment(t *testing.T) {
	e := map[string]string{"FARMWATCH_STATE_DIR": t.TempDir(), "FARMWATCH_INTERVAL": "30m"}
	c, srcs, err := Load(Options{File: "testdata/agent.yaml", ManagedPrefs: "testdata/com.farmwatch.agent.plist", Getenv: env(e)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "mdm.example.com:9443" || !strings.HasPrefix(source(t, srcs, "server").From, "managed preferences ") {
		t.Errorf("server %q from %q, want the profile's", c.Server, source(t, srcs, "server").From)
	}
	if c.Interval != 30*time.Minute {
		t.Errorf("interval %s, want the environment's 30m over the profile's 15m", c.Interval)
	}
	if !c.Sniff {
		t.Error("sniff false, want the profile's true over the file's false")
	}
	if c.UninstallTokenHash != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Errorf("token hash %q, want the profile's in lower case", c.UninstallTokenHash)
	}
}

func TestParseManaged(t *testing.T) {
	data, err := os.ReadFile("testdata/com.farmwatch.agent.plist")
	if err != nil {
		t.Fatal(err)
	}
	got, probs := ParseManaged("p", data)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	want := map[string]string{"server": "mdm.example.com:9443", "interval": "15m", "sniff": "true",
		"uninstall_token_sha256": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"}
	if len(got) != len(want) {
		t.Fatalf("got %d settings %v, want %d (PayloadUUID ignored)", len(got), got, len(want))
	}
	for _, s := range got {
		if want[s.key] != s.value {
			t.Errorf("%s = %q, want %q", s.key, s.value, want[s.key])
		}
	}

	_, probs = ParseManaged("p", []byte(`<plist version="1.0"><dict><key>colour</key><string>red</string><key>sniff</key><array/></dict></plist>`))
	if len(probs) != 2 || probs[0].Key != "colour" || !strings.Contains(probs[0].Msg, "unknown setting") ||
		probs[1].Key != "sniff" || !strings.Contains(probs[1].Msg, "want a string or a boolean") {
		t.Errorf("problems %v, want unknown colour and a wrongly typed sniff", probs)
	}
	if _, probs = ParseManaged("p", []byte("not a plist")); len(probs) != 1 {
		t.Errorf("problems %v, want one for a file that is not a plist", probs)
	}
}

func TestValidationProblemsCarryTheirLine(t *testing.T) {
	_, _, err := Load(Options{File: "testdata/bad.yaml", ManagedPrefs: noManaged(t), Getenv: env(map[string]string{"FARMWATCH_STATE_DIR": t.TempDir()})})
	cerr, ok := err.(*Error)
	if !ok {
		t.Fatalf("err %v, want *Error", err)
	}
	want := []string{
		"testdata/bad.yaml:4: sever: unknown setting",
		"testdata/bad.yaml:5: heartbeat: want a single value",
		"testdata/bad.yaml:1: server: \"collector.example.com\" is not host:port",
		"testdata/bad.yaml:6: ca_file: /nonexistent/ca.pem does not exist",
		"testdata/bad.yaml:2: interval: 5s is too short: at least 10s",
		"testdata/bad.yaml:3: log_level: unknown level \"chatty\": want one of debug, info, warn, error",
		"testdata/bad.yaml:7: uninstall_token_sha256: want the 64 hex digits",
	}
	if len(cerr.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(cerr.Problems), len(want), err)
	}
	for i, w := range want {
		if i < len(cerr.Problems) && !strings.HasPrefix(cerr.Problems[i].String(), w) {
			t.Errorf("problem %d = %q, want prefix %q", i, cerr.Problems[i], w)
		}
	}
}

func TestValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := write("open-secret", "s3cret\n", 0o644)
	closed := write("secret", "s3cret\n", 0o600)
	notPEM := write("ca.txt", "hello", 0o644)
	cases := []struct {
		name  string
		env   map[string]string
		where string // "" means valid
		msg   string
	}{
		{name: "host:port", env: map[string]string{"FARMWATCH_SERVER": "c.example.com:8443"}},
		{name: "https URL becomes host:port", env: map[string]string{"FARMWATCH_SERVER": "https://c.example.com"}},
		{name: "port out of range", env: map[string]string{"FARMWATCH_SERVER": "c.example.com:99999"},
			where: "environment FARMWATCH_SERVER", msg: "not a number from 1 to 65535"},
		{name: "unsupported scheme", env: map[string]string{"FARMWATCH_SERVER": "http://c.example.com:80"},
			where: "environment FARMWATCH_SERVER", msg: `scheme "http" is not supported`},
		{name: "URL with a path", env: map[string]string{"FARMWATCH_SERVER": "https://c.example.com/api"},
			where: "environment FARMWATCH_SERVER", msg: "no path or query"},
		{name: "missing CA", env: map[string]string{"FARMWATCH_CA": filepath.Join(dir, "nope.pem")},
			where: "environment FARMWATCH_CA", msg: "does not exist"},
		{name: "CA not PEM", env: map[string]string{"FARMWATCH_CA": notPEM},
			where: "environment FARMWATCH_CA", msg: "holds no PEM certificate"},
		{name: "interval too short", env: map[string]string{"FARMWATCH_INTERVAL": "9s"},
			where: "environment FARMWATCH_INTERVAL", msg: "9s is too short"},
		{name: "interval without unit", env: map[string]string{"FARMWATCH_INTERVAL": "300"},
			where: "environment FARMWATCH_INTERVAL", msg: "not a duration"},
		{name: "sniff not boolean", env: map[string]string{"FARMWATCH_SNIFF": "maybe"},
			where: "environment FARMWATCH_SNIFF", msg: "not true or false"},
		{name: "log level", env: map[string]string{"FARMWATCH_LOG_LEVEL": "trace"},
			where: "environment FARMWATCH_LOG_LEVEL", msg: `unknown level "trace"`},
		{name: "relative state dir", env: map[string]string{"FARMWATCH_STATE_DIR": "state"},
			where: "environment FARMWATCH_STATE_DIR", msg: "not an absolute path"},
		{name: "secret file owner-only", env: map[string]string{"FARMWATCH_ENROLL_SECRET_FILE": closed}},
		{name: "secret and secret file in one layer", env: map[string]string{"FARMWATCH_ENROLL_SECRET_FILE": closed, "FARMWATCH_ENROLL_SECRET": "x"},
			where: "environment FARMWATCH_ENROLL_SECRET_FILE", msg: "not both"},
	}
	if runtime.GOOS != "windows" {
		cases = append(cases, struct {
			name  string
			env   map[string]string
			where string
			msg   string
		}{name: "secret file readable by others", env: map[string]string{"FARMWATCH_ENROLL_SECRET_FILE": open},
			where: "environment FARMWATCH_ENROLL_SECRET_FILE", msg: "permissions 0644, too open for a secret: chmod 600"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{"FARMWATCH_STATE_DIR": dir, "FARMWATCH_CONFIG": ""}
			for k, v := range tc.env {
				e[k] = v
			}
			c, _, err := Load(Options{File: filepath.Join(dir, "absent.yaml"), ManagedPrefs: noManaged(t), Getenv: env(e)})
			if tc.where == "" {
				// The explicit absent file is itself a problem; drop it to look at the rest.
				if err != nil && !onlyMissingFile(err) {
					t.Fatalf("want valid, got %v", err)
				}
				if tc.name == "secret file owner-only" && c.EnrollSecret != "s3cret" {
					t.Errorf("secret %q, want the file's content trimmed", c.EnrollSecret)
				}
				if tc.name == "https URL becomes host:port" && c.Server != "c.example.com:443" {
					t.Errorf("server %q, want c.example.com:443", c.Server)
				}
				return
			}
			cerr, ok := err.(*Error)
			if !ok {
				t.Fatalf("err %v, want a problem", err)
			}
			found := false
			for _, p := range cerr.Problems {
				if p.Where == tc.where && strings.Contains(p.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %v, want %q at %q", cerr.Problems, tc.msg, tc.where)
			}
		})
	}
}

func onlyMissingFile(err error) bool {
	cerr, ok := err.(*Error)
	return ok && len(cerr.Problems) == 1 && strings.Contains(cerr.Problems[0].Msg, "cannot read the config file")
}

func TestMissingDefaultFileIsFineButExplicitIsNot(t *testing.T) {
	e := env(map[string]string{"FARMWATCH_STATE_DIR": t.TempDir()})
	// GOOS linux points the default at /etc/farmwatch/agent.yaml; where that exists the case
	// says nothing, so skip it rather than read the host's file.
	if _, err := os.Stat("/etc/farmwatch/agent.yaml"); err != nil && runtime.GOOS != "windows" {
		if _, _, err := Load(Options{GOOS: "linux", ManagedPrefs: noManaged(t), Getenv: e}); err != nil {
			t.Errorf("missing default file: %v", err)
		}
	}
	_, _, err := Load(Options{File: filepath.Join(t.TempDir(), "agent.yaml"), ManagedPrefs: noManaged(t), Getenv: e})
	if !onlyMissingFile(err) {
		t.Errorf("missing --config file: %v, want a problem", err)
	}
}

func TestSyntaxErrorHasLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(p, []byte("server: a:1\ninterval: [5m\n"), 0o644)
	_, _, err := Load(Options{File: p, ManagedPrefs: noManaged(t), Getenv: env(map[string]string{"FARMWATCH_STATE_DIR": t.TempDir()})})
	if err == nil || !strings.Contains(err.Error(), p+":2: YAML syntax") {
		t.Errorf("err %v, want a YAML syntax problem at line 2 (the unclosed list)", err)
	}
}

func TestSecretRedacted(t *testing.T) {
	_, srcs, err := Load(Options{File: "testdata/agent.yaml", ManagedPrefs: noManaged(t),
		Getenv: env(map[string]string{"FARMWATCH_STATE_DIR": t.TempDir(), "FARMWATCH_ENROLL_SECRET": "hunter2"})})
	if err != nil {
		t.Fatal(err)
	}
	if s := source(t, srcs, "enroll_secret"); s.Value != "(redacted)" || s.From != "environment FARMWATCH_ENROLL_SECRET" {
		t.Errorf("secret shown as %+v", s)
	}
}

func TestDefaultPaths(t *testing.T) {
	cases := []struct {
		goos string
		env  map[string]string
		want Paths
	}{
		{"linux", nil, Paths{ConfigFile: "/etc/farmwatch/agent.yaml", StateDir: "/var/lib/farmwatch"}},
		{"windows", map[string]string{"ProgramData": `D:\PD\`}, Paths{ConfigFile: `D:\PD\Farmwatch\agent.yaml`, StateDir: `D:\PD\Farmwatch\state`}},
		{"windows", nil, Paths{ConfigFile: `C:\ProgramData\Farmwatch\agent.yaml`, StateDir: `C:\ProgramData\Farmwatch\state`}},
		{"darwin", nil, Paths{ConfigFile: "/Library/Application Support/Farmwatch/agent.yaml", StateDir: "/Library/Application Support/Farmwatch/state",
			ManagedPrefs: "/Library/Managed Preferences/com.farmwatch.agent.plist", LogFile: "/Library/Logs/Farmwatch/agent.log"}},
	}
	for _, tc := range cases {
		if got := DefaultPaths(tc.goos, env(tc.env)); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.goos, got, tc.want)
		}
	}
}

func TestWatchdogLimits(t *testing.T) {
	state := t.TempDir()
	load := func(e map[string]string, flags ...Flag) (Config, []Source, error) {
		e["FARMWATCH_STATE_DIR"] = state
		file := filepath.Join(state, "agent.yaml")
		if err := os.WriteFile(file, []byte("log_level: info\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(Options{File: file, ManagedPrefs: noManaged(t), Getenv: env(e), Flags: flags})
	}
	c, srcs, err := load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxCPUPercent != 5 || c.MaxMemoryMiB != 100 || source(t, srcs, "max_cpu_percent").From != "default" {
		t.Errorf("defaults: cpu %g%% mem %d MiB, want 5%% and 100 MiB", c.MaxCPUPercent, c.MaxMemoryMiB)
	}
	c, srcs, err = load(map[string]string{"FARMWATCH_MAX_CPU_PERCENT": "2.5"}, Flag{Key: "max_memory_mib", Name: "--max-memory-mib", Value: "40"})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxCPUPercent != 2.5 || c.MaxMemoryMiB != 40 || source(t, srcs, "max_memory_mib").From != "flag --max-memory-mib" {
		t.Errorf("set: cpu %g%% mem %d MiB", c.MaxCPUPercent, c.MaxMemoryMiB)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"FARMWATCH_MAX_CPU_PERCENT": "150"}, "environment FARMWATCH_MAX_CPU_PERCENT: max_cpu_percent: 150 is out of range"},
		{map[string]string{"FARMWATCH_MAX_CPU_PERCENT": "lots"}, "environment FARMWATCH_MAX_CPU_PERCENT: max_cpu_percent: \"lots\" is not a number"},
		{map[string]string{"FARMWATCH_MAX_MEMORY_MIB": "-1"}, "environment FARMWATCH_MAX_MEMORY_MIB: max_memory_mib: -1 is negative"},
		{map[string]string{"FARMWATCH_MAX_MEMORY_MIB": "1.5"}, "environment FARMWATCH_MAX_MEMORY_MIB: max_memory_mib: \"1.5\" is not a whole number"},
	} {
		_, _, err := load(tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.env, err, tc.want)
		}
	}
}
