package service

import "strings"

// splitImagePath splits a Windows service's ImagePath (BinaryPathName) into
// the program and its arguments. A quoted program ends at its closing quote.
// An unquoted one containing spaces ("C:\Program Files\X\x.exe -s", which
// the service manager resolves by trying each space) ends after the first
// ".exe" that is followed by a space or the end; otherwise at the first
// space. The arguments follow CommandLineToArgvW's quoting rules.
func splitImagePath(s string) (string, []string) {
	s = strings.TrimSpace(s)
	var program, rest string
	switch {
	case strings.HasPrefix(s, `"`):
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return clean(s[1:]), nil
		}
		program, rest = s[1:1+end], s[2+end:]
	default:
		// Lower ASCII only, byte by byte, so offsets stay those of s.
		b := []byte(s)
		for i, c := range b {
			if c >= 'A' && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		lower := string(b)
		cut := -1
		for i := 0; ; {
			j := strings.Index(lower[i:], ".exe")
			if j < 0 {
				break
			}
			end := i + j + 4
			if end == len(s) || s[end] == ' ' || s[end] == '\t' {
				cut = end
				break
			}
			i = end
		}
		if cut < 0 {
			cut = strings.IndexAny(s, " \t")
			if cut < 0 {
				cut = len(s)
			}
		}
		program, rest = s[:cut], s[cut:]
	}
	return clean(program), splitArgs(rest)
}

// splitArgs splits arguments as CommandLineToArgvW does: whitespace
// separates; inside or outside quotes, 2n backslashes before a quote are n
// backslashes and the quote toggles quoting, 2n+1 are n and a literal
// quote; other backslashes are literal. At most 256 arguments are kept.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					quoted = !quoted
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			quoted = !quoted
			inArg = true
		case (c == ' ' || c == '\t') && !quoted:
			if inArg && len(args) < 256 {
				args = append(args, clean(cur.String()))
			}
			cur.Reset()
			inArg = false
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg && len(args) < 256 {
		args = append(args, clean(cur.String()))
	}
	return args
}
