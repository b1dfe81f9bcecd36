package account

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// TokenLen is the length of a token from NewToken: 32 random bytes in unpadded base64url.
const TokenLen = 43

// NewToken returns 32 bytes from the system CSPRNG as unpadded base64url (43 characters),
// suitable for session cookies and CSRF tokens.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns the SHA-256 of a token: what the store keeps instead of the session id, so
// a leaked database does not hand out live sessions. A fast hash suffices as tokens carry 256
// bits of entropy.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
