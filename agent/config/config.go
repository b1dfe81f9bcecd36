// Package config is the agent's configuration: built-in defaults, one documented file per OS,
// macOS managed preferences from a configuration profile, environment variables and command-line
// flags, merged in that order (each later layer wins), with the source of every value kept so
// that `farmwatch-agent config check` can say where a setting came from.
//
// Precedence, lowest to highest:
//
//  1. built-in defaults (DefaultPaths, Default);
//  2. the config file: --config, else FARMWATCH_CONFIG, else the OS default
//     (Linux /etc/farmwatch/agent.yaml, Windows %ProgramData%\Farmwatch\agent.yaml,
//     macOS /Library/Application Support/Farmwatch/agent.yaml); a missing default file is fine;
//  3. macOS managed preferences (/Library/Managed Preferences/com.farmwatch.agent.plist, written
//     by a configuration profile; darwin only, read-only), same keys as the file;
//  4. environment variables FARMWATCH_<KEY> (table fields below);
//  5. command-line flags.
//
// The uninstall token hash the collector pushes with its policy (policy.go) is kept in the state
// directory and overrides the configured one; see EffectiveUninstallHash.
package config

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the agent's effective configuration.
type Config struct {
	Server           string        // collector gRPC address, host:port (used by enroll)
	CAFile           string        // collector CA to pin at enrollment
	CAPEM            string        // or the CA itself, PEM text (a configuration profile carries it this way)
	CAPin            string        // hex SHA-256 of the CA certificate (DER): checks ca_file/ca_pem, or fetches the CA from the collector
	EnrollSecret     string        // enroll secret; read from EnrollSecretFile when that is set
	EnrollSecretFile string        // file holding the enroll secret (owner-only on Unix)
	StateDir         string        // keys, certificate, spool
	Interval         time.Duration // between scans
	Heartbeat        time.Duration // between heartbeats
	Sniff            bool          // run the packet sniffer
	LogLevel         string        // debug, info, warn, error
	// MaxCPUPercent is the watchdog's CPU limit, percent of one core averaged over a minute
	// (0: no CPU limit). Over it the agent holds scans back; over it for three minutes in a row,
	// it restarts.
	MaxCPUPercent float64
	// MaxMemoryMiB is the watchdog's resident-memory limit (0: no memory limit). Over it, after
	// returning freed memory to the OS, the agent restarts.
	MaxMemoryMiB int
	// UninstallTokenHash is the lower-case hex SHA-256 of the token `uninstall` must be given.
	// Normally pushed by the collector's policy; it may be preset here by the installer.
	UninstallTokenHash string
}

// Watchdog defaults (agent/watchdog): far below osquery's watchdog (200 MB, 10% of a core).
const (
	DefaultMaxCPUPercent = 5
	DefaultMaxMemoryMiB  = 100
)

// MinInterval is the shortest scan interval accepted.
const MinInterval = 10 * time.Second

// LogLevels are the accepted log_level values.
var LogLevels = []string{"debug", "info", "warn", "error"}

// Source says where one setting's effective value came from.
type Source struct {
	Key   string // as spelled in agent.yaml
	Value string // for people: secrets redacted
	From  string // "default", "/etc/farmwatch/agent.yaml:4", "environment FARMWATCH_SERVER", "flag --server", ...
}

// Flag is a setting given on the command line.
type Flag struct {
	Key   string // the agent.yaml key it sets
	Name  string // the flag as typed, for messages ("--server")
	Value string
}

// Options says where Load looks.
type Options struct {
	File         string              // --config; "" means FARMWATCH_CONFIG or the OS default
	ManagedPrefs string              // managed preferences plist; "" means the OS default (darwin only)
	Getenv       func(string) string // nil means os.Getenv
	Flags        []Flag
	GOOS         string // "" means runtime.GOOS; tests set it to check other OSes' defaults
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	Where string // "/etc/farmwatch/agent.yaml:7", "environment FARMWATCH_INTERVAL", "flag --interval", ...
	Key   string
	Msg   string
}

func (p Problem) String() string {
	switch {
	case p.Where != "" && p.Key != "":
		return fmt.Sprintf("%s: %s: %s", p.Where, p.Key, p.Msg)
	case p.Where != "":
		return p.Where + ": " + p.Msg
	case p.Key != "":
		return p.Key + ": " + p.Msg
	}
	return p.Msg
}

// Error lists every problem found, so that one run of `config check` shows them all.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	if len(s) == 1 {
		return "configuration: " + s[0]
	}
	return fmt.Sprintf("configuration has %d problems:\n  %s", len(s), strings.Join(s, "\n  "))
}

// layers, lowest first; a value is replaced only by one from the same or a higher layer.
const (
	layerDefault = iota
	layerFile
	layerManaged
	layerEnv
	layerFlag
)

// field describes one setting: its key in the file and the plist, its environment variable, and
// how to parse and show it. Adding a setting is adding a row here.
type field struct {
	key    string
	env    string
	secret bool
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

var fields = []field{
	{key: "server", env: "FARMWATCH_SERVER", set: str(func(c *Config) *string { return &c.Server }),
		get: func(c *Config) string { return c.Server }},
	{key: "ca_file", env: "FARMWATCH_CA", set: str(func(c *Config) *string { return &c.CAFile }),
		get: func(c *Config) string { return c.CAFile }},
	{key: "ca_pem", env: "FARMWATCH_CA_PEM", set: str(func(c *Config) *string { return &c.CAPEM }),
		get: func(c *Config) string {
			if c.CAPEM == "" {
				return ""
			}
			return fmt.Sprintf("(%d bytes of PEM)", len(c.CAPEM))
		}},
	{key: "ca_pin", env: "FARMWATCH_CA_PIN", set: str(func(c *Config) *string { return &c.CAPin }),
		get: func(c *Config) string { return c.CAPin }},
	{key: "enroll_secret", env: "FARMWATCH_ENROLL_SECRET", secret: true, set: str(func(c *Config) *string { return &c.EnrollSecret }),
		get: func(c *Config) string { return c.EnrollSecret }},
	{key: "enroll_secret_file", env: "FARMWATCH_ENROLL_SECRET_FILE", set: str(func(c *Config) *string { return &c.EnrollSecretFile }),
		get: func(c *Config) string { return c.EnrollSecretFile }},
	{key: "state_dir", env: "FARMWATCH_STATE_DIR", set: str(func(c *Config) *string { return &c.StateDir }),
		get: func(c *Config) string { return c.StateDir }},
	{key: "interval", env: "FARMWATCH_INTERVAL", set: dur(func(c *Config) *time.Duration { return &c.Interval }),
		get: func(c *Config) string { return c.Interval.String() }},
	{key: "heartbeat", env: "FARMWATCH_HEARTBEAT", set: dur(func(c *Config) *time.Duration { return &c.Heartbeat }),
		get: func(c *Config) string { return c.Heartbeat.String() }},
	{key: "sniff", env: "FARMWATCH_SNIFF", set: boolean(func(c *Config) *bool { return &c.Sniff }),
		get: func(c *Config) string { return strconv.FormatBool(c.Sniff) }},
	{key: "log_level", env: "FARMWATCH_LOG_LEVEL", set: str(func(c *Config) *string { return &c.LogLevel }),
		get: func(c *Config) string { return c.LogLevel }},
	{key: "max_cpu_percent", env: "FARMWATCH_MAX_CPU_PERCENT", set: float(func(c *Config) *float64 { return &c.MaxCPUPercent }),
		get: func(c *Config) string { return strconv.FormatFloat(c.MaxCPUPercent, 'g', -1, 64) }},
	{key: "max_memory_mib", env: "FARMWATCH_MAX_MEMORY_MIB", set: integer(func(c *Config) *int { return &c.MaxMemoryMiB }),
		get: func(c *Config) string { return strconv.Itoa(c.MaxMemoryMiB) }},
	{key: "uninstall_token_sha256", env: "FARMWATCH_UNINSTALL_TOKEN_SHA256", set: str(func(c *Config) *string { return &c.UninstallTokenHash }),
		get: func(c *Config) string { return c.UninstallTokenHash }},
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = strings.TrimSpace(v); return nil }
}

func dur(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration: want a number with a unit, like 5m or 90s", v)
		}
		*p(c) = d
		return nil
	}
}

func float(p func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		*p(c) = f
		return nil
	}
}

func integer(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*p(c) = n
		return nil
	}
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*p(c) = b
		return nil
	}
}

func lookup(key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// Keys lists the setting names accepted in the file and the managed preferences.
func Keys() []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.key
	}
	return out
}

// EnvVar returns the environment variable of a setting ("" if it has none).
func EnvVar(key string) string {
	f, _ := lookup(key)
	return f.env
}

// Paths are the per-OS default locations.
type Paths struct {
	ConfigFile   string
	StateDir     string
	ManagedPrefs string // "" where there are none (everywhere but macOS)
	LogFile      string // "" where the OS log is used instead (journald, Event Log)
}

// DefaultPaths returns the documented default locations for goos.
func DefaultPaths(goos string, getenv func(string) string) Paths {
	switch goos {
	case "windows":
		pd := getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		pd = strings.TrimRight(pd, `\`)
		return Paths{ConfigFile: pd + `\Farmwatch\agent.yaml`, StateDir: pd + `\Farmwatch\state`}
	case "darwin":
		const base = "/Library/Application Support/Farmwatch"
		return Paths{ConfigFile: base + "/agent.yaml", StateDir: base + "/state",
			ManagedPrefs: "/Library/Managed Preferences/com.farmwatch.agent.plist", LogFile: "/Library/Logs/Farmwatch/agent.log"}
	}
	return Paths{ConfigFile: "/etc/farmwatch/agent.yaml", StateDir: "/var/lib/farmwatch"}
}

// Default is the built-in configuration for goos.
func Default(p Paths) Config {
	return Config{StateDir: p.StateDir, Interval: 5 * time.Minute, Heartbeat: time.Minute, Sniff: true, LogLevel: "info",
		MaxCPUPercent: DefaultMaxCPUPercent, MaxMemoryMiB: DefaultMaxMemoryMiB}
}

// setting is one value read from a layer, with where it was read.
type setting struct {
	key, value, where string
}

// Load merges the layers and validates the result. It returns the best configuration it could
// build and the source of every value even when there are problems (an *Error), so that
// `config check` can show both.
func Load(o Options) (Config, []Source, error) {
	goos := o.GOOS
	if goos == "" {
		goos = runtime.GOOS
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	paths := DefaultPaths(goos, getenv)
	c := Default(paths)
	from := map[string]string{}
	rank := map[string]int{}
	for _, f := range fields {
		from[f.key] = "default"
	}
	var probs []Problem
	apply := func(layer int, s []setting) {
		for _, st := range s {
			f, _ := lookup(st.key)
			if err := f.set(&c, st.value); err != nil {
				probs = append(probs, Problem{Where: st.where, Key: st.key, Msg: err.Error()})
				continue
			}
			from[st.key], rank[st.key] = st.where, layer
		}
	}

	// The file.
	file, explicit := o.File, o.File != ""
	if file == "" {
		if file = getenv("FARMWATCH_CONFIG"); file != "" {
			explicit = true
		} else {
			file = paths.ConfigFile
		}
	}
	switch data, err := os.ReadFile(file); {
	case err == nil:
		s, p := parseYAML(file, data)
		probs = append(probs, p...)
		apply(layerFile, s)
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		probs = append(probs, Problem{Where: file, Msg: fmt.Sprintf("cannot read the config file: %v", errors.Unwrap(err))})
	}

	// Managed preferences (a configuration profile on macOS).
	managed := o.ManagedPrefs
	if managed == "" {
		managed = paths.ManagedPrefs
	}
	if managed != "" {
		switch data, err := os.ReadFile(managed); {
		case err == nil:
			s, p := ParseManaged(managed, data)
			probs = append(probs, p...)
			apply(layerManaged, s)
		case errors.Is(err, os.ErrNotExist):
		default:
			probs = append(probs, Problem{Where: managed, Msg: fmt.Sprintf("cannot read the managed preferences: %v", errors.Unwrap(err))})
		}
	}

	// The environment: an empty variable counts as unset.
	var env []setting
	for _, f := range fields {
		if v := getenv(f.env); v != "" {
			env = append(env, setting{f.key, v, "environment " + f.env})
		}
	}
	apply(layerEnv, env)

	// Flags.
	var fl []setting
	for _, f := range o.Flags {
		if _, ok := lookup(f.Key); !ok {
			probs = append(probs, Problem{Where: "flag " + f.Name, Msg: "sets no known setting " + f.Key})
			continue
		}
		fl = append(fl, setting{f.Key, f.Value, "flag " + f.Name})
	}
	apply(layerFlag, fl)

	// A secret and a secret file: the higher layer wins; both in one layer is a mistake.
	if c.EnrollSecret != "" && c.EnrollSecretFile != "" {
		switch rs, rf := rank["enroll_secret"], rank["enroll_secret_file"]; {
		case rs > rf:
			c.EnrollSecretFile, from["enroll_secret_file"] = "", "overridden by "+from["enroll_secret"]
		case rf > rs:
			c.EnrollSecret = ""
		default:
			probs = append(probs, Problem{Where: from["enroll_secret_file"], Key: "enroll_secret_file",
				Msg: "set either enroll_secret or enroll_secret_file, not both (" + from["enroll_secret"] + " sets the other)"})
		}
	}
	probs = append(probs, validate(&c, from)...)

	srcs := make([]Source, 0, len(fields))
	for _, f := range fields {
		v := f.get(&c)
		if f.secret && v != "" {
			v = "(redacted)"
		}
		w := from[f.key]
		if f.key == "enroll_secret" && c.EnrollSecretFile != "" && c.EnrollSecret != "" {
			w = "file " + c.EnrollSecretFile
		}
		srcs = append(srcs, Source{Key: f.key, Value: v, From: w})
	}
	if len(probs) > 0 {
		return c, srcs, &Error{probs}
	}
	return c, srcs, nil
}

// validate checks the merged configuration, reporting each problem where its value came from.
// It also reads the enroll secret file into EnrollSecret.
func validate(c *Config, from map[string]string) []Problem {
	var probs []Problem
	bad := func(key, format string, a ...any) {
		probs = append(probs, Problem{Where: from[key], Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	if c.Server != "" {
		if hp, err := ServerAddress(c.Server); err != nil {
			bad("server", "%v", err)
		} else {
			c.Server = hp
		}
	}
	if c.CAFile != "" {
		if err := checkCA(c.CAFile); err != nil {
			bad("ca_file", "%v", err)
		}
	}
	if c.CAPin != "" {
		c.CAPin = strings.ToLower(strings.TrimSpace(c.CAPin))
		if len(c.CAPin) != 64 || strings.Trim(c.CAPin, "0123456789abcdef") != "" {
			bad("ca_pin", "want the hex SHA-256 of the collector CA certificate (openssl x509 -in ca.pem -outform der | sha256sum)")
		}
	}
	if c.CAPEM != "" {
		if c.CAFile != "" {
			bad("ca_pem", "give ca_file or ca_pem, not both")
		} else if err := checkCAPEM([]byte(c.CAPEM)); err != nil {
			bad("ca_pem", "%v", err)
		}
	}
	if c.EnrollSecretFile != "" {
		secret, err := readSecretFile(c.EnrollSecretFile)
		if err != nil {
			bad("enroll_secret_file", "%v", err)
		} else {
			c.EnrollSecret = secret
		}
	}
	if c.StateDir == "" {
		bad("state_dir", "must not be empty")
	} else if !filepath.IsAbs(c.StateDir) {
		bad("state_dir", "%q is not an absolute path", c.StateDir)
	}
	if c.Interval < MinInterval {
		bad("interval", "%s is too short: at least %s", c.Interval, MinInterval)
	}
	if c.Heartbeat < 5*time.Second {
		bad("heartbeat", "%s is too short: at least 5s", c.Heartbeat)
	}
	if c.MaxCPUPercent < 0 || c.MaxCPUPercent > 100 || c.MaxCPUPercent != c.MaxCPUPercent {
		bad("max_cpu_percent", "%g is out of range: want a percentage of one core from 0 (no limit) to 100", c.MaxCPUPercent)
	}
	if c.MaxMemoryMiB < 0 {
		bad("max_memory_mib", "%d is negative: want the resident-memory limit in MiB, or 0 for no limit", c.MaxMemoryMiB)
	}
	c.LogLevel = strings.ToLower(c.LogLevel)
	if !slices.Contains(LogLevels, c.LogLevel) {
		bad("log_level", "unknown level %q: want one of %s", c.LogLevel, strings.Join(LogLevels, ", "))
	}
	if c.UninstallTokenHash != "" {
		h, err := NormalizeTokenHash(c.UninstallTokenHash)
		if err != nil {
			bad("uninstall_token_sha256", "%v", err)
		} else {
			c.UninstallTokenHash = h
		}
	}
	return probs
}

// ServerAddress checks a collector address and returns it as host:port. It takes host:port, or
// an https:// or grpcs:// URL (port 443 when the URL has none).
func ServerAddress(s string) (string, error) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("%q is not a valid URL: %v", s, errors.Unwrap(err))
		}
		if u.Scheme != "https" && u.Scheme != "grpcs" {
			return "", fmt.Errorf("%q: scheme %q is not supported: give host:port, or an https:// URL", s, u.Scheme)
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return "", fmt.Errorf("%q: a collector address has no path or query: give host:port", s)
		}
		if u.Hostname() == "" {
			return "", fmt.Errorf("%q has no host name", s)
		}
		port := u.Port()
		if port == "" {
			port = "443"
		}
		s = net.JoinHostPort(u.Hostname(), port)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port (for example collector.example.com:8443)", s)
	}
	if host == "" {
		return "", fmt.Errorf("%q has no host name", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return s, nil
}

// checkCAPEM checks that PEM text holds a certificate.
func checkCAPEM(b []byte) error {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return errors.New("holds no PEM certificate (want the text of the collector's ca.pem)")
		}
		if blk.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
				return fmt.Errorf("certificate: %v", err)
			}
			return nil
		}
	}
}

// CA returns the collector CA to pin: the ca_pem text, else the ca_file's contents.
func (c Config) CA() ([]byte, error) {
	if c.CAPEM != "" {
		return []byte(c.CAPEM), nil
	}
	if c.CAFile == "" {
		return nil, errors.New("no collector CA configured (ca_file or ca_pem)")
	}
	return os.ReadFile(c.CAFile)
}

func checkCA(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s does not exist", path)
		}
		return fmt.Errorf("cannot read %s: %v", path, errors.Unwrap(err))
	}
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return fmt.Errorf("%s holds no PEM certificate (want the collector's ca.pem)", path)
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("%s: certificate does not parse: %v", path, err)
		}
		return nil
	}
}

// readSecretFile reads a secret, refusing a file that others can read on Unix: the enroll
// secret lets any machine join the fleet.
func readSecretFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s does not exist", path)
		}
		return "", fmt.Errorf("cannot read %s: %v", path, errors.Unwrap(err))
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s has permissions %04o, too open for a secret: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", path, errors.Unwrap(err))
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// NormalizeTokenHash checks a hex SHA-256 and returns it in lower case.
func NormalizeTokenHash(h string) (string, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
		return "", fmt.Errorf("want the 64 hex digits of a SHA-256 (sha256sum of the token), got %d characters", len(h))
	}
	return h, nil
}
