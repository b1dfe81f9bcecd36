// Package account holds the security primitives of console accounts: password hashing and
// policy (argon2id in PHC strings), session tokens, and login rate limiting.
package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Parameters of new hashes: OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane), which
// costs about 20-40 ms and 19 MiB of memory per hash on a current server core.
const (
	memoryKiB  = 19 * 1024
	iterations = 2
	lanes      = 1
	saltLen    = 16
	keyLen     = 32
)

// Bounds on the parameters of hashes read back (they come from the database, which an attacker
// may have written to): a hostile hash must not make a login allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxIterations = 16
	maxLanes      = 16
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
	maxEncodedLen = 512
)

// Password length bounds. The upper bound keeps hashing cheap and the form small.
const (
	MinPasswordChars = 12
	MaxPasswordBytes = 1024
)

// ErrMalformedHash is wrapped by every error Verify returns for an unparseable or out-of-bounds
// encoded hash.
var ErrMalformedHash = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding

// Params are the argon2id parameters and outputs of one encoded hash.
type Params struct {
	MemoryKiB  uint32
	Iterations uint32
	Lanes      uint8
	Salt       []byte
	Key        []byte
}

// Hash derives an argon2id hash of password with a fresh random salt and returns it as a PHC
// string: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (standard base64 without padding).
// It does not apply the password policy; call CheckPassword for new passwords.
func Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, iterations, memoryKiB, lanes, keyLen)
	return encode(Params{MemoryKiB: memoryKiB, Iterations: iterations, Lanes: lanes, Salt: salt, Key: key}), nil
}

func encode(p Params) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Lanes, b64.EncodeToString(p.Salt), b64.EncodeToString(p.Key))
}

// Verify reports whether password matches the encoded argon2id hash, comparing in constant
// time. A well-formed hash that does not match is (false, nil); an encoded hash that cannot be
// parsed or whose parameters are out of bounds is an error wrapping ErrMalformedHash, and no
// key is derived for it.
func Verify(encoded, password string) (bool, error) {
	p, err := ParseHash(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.Salt, p.Iterations, p.MemoryKiB, p.Lanes, uint32(len(p.Key)))
	return subtle.ConstantTimeCompare(key, p.Key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than the current ones, so
// a caller that has just verified the password can store a fresh hash.
func NeedsRehash(encoded string) bool {
	p, err := ParseHash(encoded)
	if err != nil {
		return true
	}
	return p.MemoryKiB != memoryKiB || p.Iterations != iterations || p.Lanes != lanes ||
		len(p.Salt) != saltLen || len(p.Key) != keyLen
}

// ParseHash parses an argon2id PHC string strictly: the exact field order Hash writes, version
// 19, decimal parameters without signs or leading zeros, canonical unpadded base64, and every
// parameter within fixed bounds (memory at most 1 GiB and at least 8 KiB per lane, at most 16
// passes and 16 lanes, salt 8-64 bytes, key 16-64 bytes).
func ParseHash(encoded string) (Params, error) {
	var p Params
	if len(encoded) > maxEncodedLen {
		return p, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformedHash, len(encoded), maxEncodedLen)
	}
	// The base64 decoder skips CR and LF: a hash with them would not be the one stored.
	if strings.ContainsAny(encoded, "\r\n") {
		return p, fmt.Errorf("%w: line breaks in the hash", ErrMalformedHash)
	}
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, fmt.Errorf("%w: want $argon2id$v=19$m=M,t=T,p=P$salt$key", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: algorithm %q, want argon2id", ErrMalformedHash, truncate(parts[1], 32))
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return p, fmt.Errorf("%w: missing version", ErrMalformedHash)
	}
	if n, err := parseDecimal(v, argon2.Version); err != nil || n != argon2.Version {
		return p, fmt.Errorf("%w: version %q, want %d", ErrMalformedHash, truncate(v, 32), argon2.Version)
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, fmt.Errorf("%w: parameters %q, want m=M,t=T,p=P", ErrMalformedHash, truncate(parts[3], 64))
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		s, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return p, fmt.Errorf("%w: parameter %d is %q, want %s=", ErrMalformedHash, i+1, truncate(fields[i], 32), name)
		}
		limit := map[string]uint64{"m": maxMemoryKiB, "t": maxIterations, "p": maxLanes}[name]
		n, err := parseDecimal(s, limit)
		if err != nil || n == 0 {
			return p, fmt.Errorf("%w: %s=%q out of range 1..%d", ErrMalformedHash, name, truncate(s, 32), limit)
		}
		vals[i] = n
	}
	p.MemoryKiB, p.Iterations, p.Lanes = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if uint64(p.MemoryKiB) < 8*uint64(p.Lanes) {
		return p, fmt.Errorf("%w: m=%d below 8 KiB per lane", ErrMalformedHash, p.MemoryKiB)
	}
	var err error
	if p.Salt, err = decodeB64(parts[4], minSaltLen, maxSaltLen); err != nil {
		return Params{}, fmt.Errorf("%w: salt: %v", ErrMalformedHash, err)
	}
	if p.Key, err = decodeB64(parts[5], minKeyLen, maxKeyLen); err != nil {
		return Params{}, fmt.Errorf("%w: key: %v", ErrMalformedHash, err)
	}
	return p, nil
}

// parseDecimal accepts only plain decimal digits without leading zeros, at most limit.
func parseDecimal(s string, limit uint64) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a canonical decimal")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a canonical decimal")
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > limit {
		return 0, errors.New("out of range")
	}
	return n, nil
}

func decodeB64(s string, minLen, maxLen int) ([]byte, error) {
	if s == "" || len(s) > b64.EncodedLen(maxLen) {
		return nil, fmt.Errorf("%d base64 characters, want %d-%d bytes", len(s), minLen, maxLen)
	}
	b, err := b64.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not canonical unpadded base64")
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, fmt.Errorf("%d bytes, want %d-%d", len(b), minLen, maxLen)
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// CheckPassword applies the password policy to a new password: valid UTF-8, at least 12
// characters and at most 1024 bytes. The error says what to change.
func CheckPassword(password string) error {
	if !utf8.ValidString(password) {
		return errors.New("password is not valid UTF-8 text")
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("password is too long: %d bytes, at most %d", len(password), MaxPasswordBytes)
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordChars {
		return fmt.Errorf("password is too short: %d characters, at least %d", n, MinPasswordChars)
	}
	if strings.TrimSpace(password) == "" {
		return errors.New("password is only white space")
	}
	return nil
}
