// Package envfile parses the shell-style KEY=value files that Linux keeps its
// system facts in: /etc/os-release, /etc/default/locale, /etc/locale.conf.
//
// The files are untrusted input (a captured tree, or a laptop whose owner is
// the adversary), so reads are bounded and parsing never fails: malformed lines
// are skipped.
package envfile

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxSize is the most Read takes from a file; the rest is ignored. Real
// os-release and locale files are well under 1 KiB.
const MaxSize = 64 << 10

// Parse returns the assignments in data. It understands what os-release(5)
// and locale.conf(5) allow: comments, blank lines, an optional "export "
// prefix, and values that are bare, single-quoted or double-quoted (with
// backslash escapes of $ " \ ` inside double quotes). A later assignment of
// the same key wins, as in a shell. Keys must be shell identifiers; lines
// that are not assignments are skipped. Cost: one pass over data.
func Parse(data []byte) map[string]string {
	out := make(map[string]string)
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		if !ok || !validKey(key) {
			continue
		}
		out[key] = unquote(strings.TrimSpace(value))
	}
	return out
}

// Read reads at most MaxSize bytes of the file at path and parses them.
// A missing file is reported with an error that satisfies
// errors.Is(err, fs.ErrNotExist). Cost: one open and one bounded read.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Parse(data), nil
}

func validKey(key string) bool {
	if key == "" {
		return false
	}
	for i, r := range key {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// unquote undoes shell quoting of one value. An unterminated quote keeps the
// rest of the line, which is what a lenient reader of a broken file wants.
func unquote(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\'':
			end := strings.IndexByte(v[i+1:], '\'')
			if end < 0 {
				b.WriteString(v[i+1:])
				return b.String()
			}
			b.WriteString(v[i+1 : i+1+end])
			i += end + 1
		case '"':
			i++
			for ; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("$\"\\`", v[i+1]) >= 0 {
					i++
				}
				b.WriteByte(v[i])
			}
		case '\\':
			if i+1 < len(v) {
				i++
				b.WriteByte(v[i])
			}
		case ' ', '\t':
			// Unquoted whitespace ends the value; the rest is a comment or junk.
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
