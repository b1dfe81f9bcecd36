package account

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashWritesPHCStringWithOWASPParameters(t *testing.T) {
	h, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !phcPattern.MatchString(h) {
		t.Fatalf("Hash = %q, want argon2id PHC string matching %s", h, phcPattern)
	}
	p, err := ParseHash(h)
	if err != nil {
		t.Fatalf("ParseHash(Hash()) = %v", err)
	}
	if p.MemoryKiB != 19456 || p.Iterations != 2 || p.Lanes != 1 || len(p.Salt) != 16 || len(p.Key) != 32 {
		t.Errorf("params = m=%d t=%d p=%d salt=%d key=%d, want 19456/2/1/16/32",
			p.MemoryKiB, p.Iterations, p.Lanes, len(p.Salt), len(p.Key))
	}
	if NeedsRehash(h) {
		t.Error("NeedsRehash(fresh hash) = true")
	}
	h2, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Error("two hashes of the same password are equal: salt is not random")
	}
}

func TestVerifyMatchesOnlyTheRightPassword(t *testing.T) {
	const pw = "Tr0ub4dor&3 is not enough"
	h, err := Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"same password", pw, true},
		{"different case", strings.ToUpper(pw), false},
		{"one char more", pw + "x", false},
		{"prefix", pw[:len(pw)-1], false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Verify(h, tt.password)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tt.want {
				t.Errorf("Verify(%q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
}

// TestVerifyKnownVector pins the encoding against a hash computed independently from the
// argon2 package with fixed salt, so a change in the PHC layout or base64 alphabet shows up.
func TestVerifyKnownVector(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("password12345"), salt, 1, 64, 1, 16)
	encoded := encode(Params{MemoryKiB: 64, Iterations: 1, Lanes: 1, Salt: salt, Key: key})
	if want := "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"; !strings.HasPrefix(encoded, want) {
		t.Fatalf("encode = %q, want prefix %q", encoded, want)
	}
	ok, err := Verify(encoded, "password12345")
	if err != nil || !ok {
		t.Fatalf("Verify = %v, %v; want true, nil", ok, err)
	}
	if !NeedsRehash(encoded) {
		t.Error("NeedsRehash(m=64,t=1) = false, want true")
	}
}

func TestParseHashRejectsMalformedAndUnboundedInput(t *testing.T) {
	const salt = "MDEyMzQ1Njc4OWFiY2RlZg"                        // 16 bytes
	const key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"    // 32 bytes
	good := "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key // sanity row
	tests := []struct {
		name    string
		encoded string
		wantErr bool
	}{
		{"well formed", good, false},
		{"empty", "", true},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", true},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, true},
		{"version 16", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, true},
		{"no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, true},
		{"memory 1 GiB", "$argon2id$v=19$m=1048576,t=2,p=1$" + salt + "$" + key, false},
		{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=2,p=1$" + salt + "$" + key, true},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967297,t=2,p=1$" + salt + "$" + key, true},
		{"memory below 8 KiB per lane", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key, true},
		{"zero iterations", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key, true},
		{"17 iterations", "$argon2id$v=19$m=19456,t=17,p=1$" + salt + "$" + key, true},
		{"zero lanes", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key, true},
		{"256 lanes", "$argon2id$v=19$m=19456,t=2,p=256$" + salt + "$" + key, true},
		{"leading zero", "$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key, true},
		{"plus sign", "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key, true},
		{"parameters reordered", "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key, true},
		{"extra parameter", "$argon2id$v=19$m=19456,t=2,p=1,k=1$" + salt + "$" + key, true},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, true},
		{"url alphabet salt", "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2Rl_g$" + key, true},
		{"salt 7 bytes", "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Ng$" + key, true},
		{"key 8 bytes", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$AAAAAAAAAAA", true},
		{"key 65 bytes", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.Repeat("A", 87), true},
		{"missing key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt, true},
		{"trailing field", good + "$x", true},
		{"no leading dollar", good[1:], true},
		{"huge", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.Repeat("A", 600), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHash(tt.encoded)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseHash(%q) error = %v, wantErr %v", tt.encoded, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformedHash) {
				t.Errorf("error %v does not wrap ErrMalformedHash", err)
			}
			if tt.wantErr {
				if ok, err := Verify(tt.encoded, "whatever"); ok || err == nil {
					t.Errorf("Verify(malformed) = %v, %v; want false and an error", ok, err)
				}
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		wantErr  string // substring; "" for no error
	}{
		{"twelve ascii", "abcdefghijkl", ""},
		{"eleven ascii", "abcdefghijk", "too short: 11 characters, at least 12"},
		{"empty", "", "too short: 0 characters"},
		{"twelve multibyte characters", "пароль-пароль", ""},
		{"eleven multibyte characters (22 bytes)", "пароль-паро", "too short: 11 characters"},
		{"1024 bytes", strings.Repeat("a", 1024), ""},
		{"1025 bytes", strings.Repeat("a", 1025), "too long: 1025 bytes, at most 1024"},
		{"invalid utf-8", "abcdefghijkl\xff", "not valid UTF-8"},
		{"only spaces", strings.Repeat(" ", 12), "only white space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("CheckPassword = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("CheckPassword = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != TokenLen || !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(tok) {
			t.Fatalf("NewToken = %q, want 43 base64url characters", tok)
		}
		if seen[tok] {
			t.Fatalf("NewToken repeated %q", tok)
		}
		seen[tok] = true
	}
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := hexString(HashToken("abc")); got != want {
		t.Errorf("HashToken(abc) = %s, want %s", got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func FuzzParseHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=1048577,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$$")
	f.Add("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseHash(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		if p.MemoryKiB > maxMemoryKiB || p.MemoryKiB < 8*uint32(p.Lanes) || p.Iterations < 1 || p.Iterations > maxIterations ||
			p.Lanes < 1 || p.Lanes > maxLanes || len(p.Salt) < minSaltLen || len(p.Salt) > maxSaltLen ||
			len(p.Key) < minKeyLen || len(p.Key) > maxKeyLen {
			t.Fatalf("ParseHash(%q) accepted out-of-bounds params %+v", s, p)
		}
		// Accepted input is canonical: encoding it again gives the same string.
		if got := encode(p); got != s {
			t.Fatalf("encode(ParseHash(%q)) = %q", s, got)
		}
	})
}
