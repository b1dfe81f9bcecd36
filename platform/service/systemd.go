package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// unitDirs are the system unit directories in systemd's order of
// precedence. On merged-/usr systems lib is a link to usr/lib and its files
// are the same ones, already seen.
var unitDirs = []string{
	"etc/systemd/system",
	"run/systemd/system",
	"usr/local/lib/systemd/system",
	"usr/lib/systemd/system",
	"lib/systemd/system",
}

// systemdUnits reads the *.service unit files under root.
func systemdUnits(ctx context.Context, root string) ([]Service, error) {
	var errs []error
	enabled, err := enabledUnits(root)
	if err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	masked := map[string]bool{}
	var svcs []Service
	for _, d := range unitDirs {
		if err := ctx.Err(); err != nil {
			return svcs, err
		}
		ents, err := fsroot.ReadDir(filepath.Join(root, filepath.FromSlash(d)))
		if err != nil {
			errs = append(errs, err)
		}
		for _, e := range ents {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".service") || seen[name] {
				continue
			}
			rel := d + "/" + name
			if target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(rel))); err == nil && target == "/dev/null" {
				masked[name] = true // masked: the next directory's file says what it would run
				continue
			}
			b, err := fsroot.ReadFile(fsroot.Path(root, rel), maxFile)
			if err != nil {
				if !fsroot.Absent(err) {
					errs = append(errs, err)
				}
				continue
			}
			seen[name] = true
			u := parseUnit(b)
			svcs = append(svcs, Service{
				Name: name, DisplayName: u.description, Manager: "systemd",
				Program: u.program, Args: u.args, User: u.user, Path: "/" + rel,
				Enabled: enabled[name] && !masked[name],
			})
		}
	}
	return svcs, errors.Join(errs...)
}

// enabledUnits returns the units linked from etc/systemd/system/*.wants and
// *.requires, which is what "systemctl enable" creates. An enabled instance
// (getty@tty1.service) enables its template (getty@.service) too.
func enabledUnits(root string) (map[string]bool, error) {
	dir := filepath.Join(root, "etc", "systemd", "system")
	ents, err := fsroot.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	var errs []error
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".wants") && !strings.HasSuffix(e.Name(), ".requires") {
			continue
		}
		links, err := fsroot.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
		}
		for _, l := range links {
			name := l.Name()
			out[name] = true
			if at := strings.IndexByte(name, '@'); at > 0 {
				if dot := strings.LastIndexByte(name, '.'); dot > at {
					out[name[:at+1]+name[dot:]] = true
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

// unit is what List uses of a unit file.
type unit struct {
	description, user string
	program           string
	args              []string
}

// parseUnit reads [Unit] Description= and [Service] ExecStart= and User= of
// a systemd unit file. Comments (# ;), backslash line continuations and an
// empty ExecStart= (which resets the list) are understood; of several
// ExecStart= lines (Type=oneshot) the first counts. ExecStart's prefixes
// @ - : + ! are dropped; with @ the second word is argv[0] and is not an
// argument. Specifiers (%i) and $VARIABLES are kept as written.
func parseUnit(b []byte) unit {
	var u unit
	var exec string
	section := ""
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(lines[i])
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.TrimSpace(strings.Trim(line, "[]"))
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch section + "." + key {
		case "Unit.Description":
			u.description = clean(value)
		case "Service.User":
			u.user = clean(value)
		case "Service.ExecStart":
			if value == "" {
				exec = ""
			} else if exec == "" {
				exec = value
			}
		}
	}
	prefix := ""
	for exec != "" && strings.ContainsRune("@-:+!|", rune(exec[0])) {
		prefix += exec[:1]
		exec = exec[1:]
	}
	words := splitExec(exec)
	if len(words) == 0 {
		return u
	}
	u.program = words[0]
	words = words[1:]
	if strings.Contains(prefix, "@") && len(words) > 0 {
		words = words[1:]
	}
	if len(words) > 0 {
		u.args = words
	}
	return u
}

// splitExec splits a command line as systemd does: whitespace separates
// words, "..." and '...' quote, backslash escapes the next character. A
// lone ";" ends the first command. At most 256 words are kept.
func splitExec(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	flush := func() {
		if inWord && len(words) < 256 {
			words = append(words, clean(cur.String()))
		}
		cur.Reset()
		inWord = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == ' ' || c == '\t':
			if inWord && cur.String() == ";" {
				cur.Reset()
				inWord = false
				return words
			}
			flush()
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord && cur.String() == ";" {
		return words
	}
	flush()
	return words
}
