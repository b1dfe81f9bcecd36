package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// TokenPrefix starts every API token, so a leaked one is recognisable (and greppable) as ours.
const TokenPrefix = "fwt_"

// NewToken returns a new API token: TokenPrefix and 32 bytes from the system CSPRNG in unpadded
// base64url. Store only HashToken of it.
func NewToken() (value string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns the SHA-256 of a token value, which is what the store keeps and looks up.
// A fast hash suffices: tokens carry 256 bits of entropy.
func HashToken(v string) []byte {
	sum := sha256.Sum256([]byte(v))
	return sum[:]
}
