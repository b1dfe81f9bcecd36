package console

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"
)

// ID tokens are verified here by hand, narrowly: compact JWS only, RS256 or ES256 only (so
// "none" and the HMAC algorithms, which would let anyone holding the public key sign, are
// refused before any key is looked at).

// maxIDTokenBytes bounds a token before any decoding.
const maxIDTokenBytes = 64 << 10

// jwtHeader is the part of a JOSE header we read.
type jwtHeader struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Typ  string   `json:"typ"`
	Crit []string `json:"crit"`
}

// jwk is one usable signing key from the provider's JWKS.
type jwk struct {
	Kid string
	Alg string // "RS256" or "ES256": the only algorithm this key may verify
	RSA *rsa.PublicKey
	EC  *ecdsa.PublicKey
}

// parseJWKS keeps the keys we can use: RSA of at least 2048 bits for RS256 and P-256 for
// ES256, meant for signatures. Anything else is skipped, not an error: a JWKS may hold keys
// for other uses.
func parseJWKS(raw []json.RawMessage) []jwk {
	var keys []jwk
	for _, r := range raw {
		var k struct {
			Kty, Kid, Use, Alg, Crv string
			N, E, X, Y              string
		}
		if json.Unmarshal(r, &k) != nil || (k.Use != "" && k.Use != "sig") {
			continue
		}
		switch k.Kty {
		case "RSA":
			if k.Alg != "" && k.Alg != "RS256" {
				continue
			}
			n, errN := b64(k.N)
			e, errE := b64(k.E)
			if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
				continue
			}
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
				continue
			}
			keys = append(keys, jwk{Kid: k.Kid, Alg: "RS256", RSA: pub})
		case "EC":
			if (k.Alg != "" && k.Alg != "ES256") || k.Crv != "P-256" {
				continue
			}
			x, errX := b64(k.X)
			y, errY := b64(k.Y)
			if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
				continue
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				continue
			}
			keys = append(keys, jwk{Kid: k.Kid, Alg: "ES256", EC: pub})
		}
	}
	return keys
}

// pickKey finds the key for a header: by key id when the token names one, else the only key
// for its algorithm.
func pickKey(keys []jwk, h jwtHeader) *jwk {
	var found *jwk
	for i := range keys {
		k := &keys[i]
		if k.Alg != h.Alg {
			continue
		}
		if h.Kid != "" {
			if k.Kid == h.Kid {
				return k
			}
			continue
		}
		if found != nil {
			return nil // ambiguous without a key id
		}
		found = k
	}
	return found
}

// b64 decodes unpadded base64url, the only encoding JWS allows.
func b64(s string) ([]byte, error) { return base64.RawURLEncoding.Strict().DecodeString(s) }

// idTokenCheck is what an ID token must match.
type idTokenCheck struct {
	Issuer, ClientID, Nonce string
	Now                     time.Time
}

// emailVerified is the tri-state email_verified claim: many providers leave it out.
type emailVerified int

const (
	verifiedUnknown emailVerified = iota
	verifiedTrue
	verifiedFalse
)

// idClaims are the ID token claims we use.
type idClaims struct {
	Issuer          string
	Subject         string
	Audience        []string
	AuthorizedParty string
	Expiry          time.Time
	IssuedAt        time.Time
	NotBefore       time.Time // zero when absent
	Nonce           string
	Email           string
	EmailVerified   emailVerified
	all             map[string]json.RawMessage
}

// Roles returns the values of a claim that holds a string or a list of strings; anything
// else yields none.
func (c *idClaims) Roles(claim string) []string {
	raw, ok := c.all[claim]
	if !ok {
		return nil
	}
	var many []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		many = []string{one}
	} else if json.Unmarshal(raw, &many) != nil {
		return nil
	}
	return slices.DeleteFunc(many, func(s string) bool { return s == "" })
}

// verifyIDToken parses a compact JWS, checks its signature with the key that key returns for
// its header, and checks the claims against want. The error says what was wrong, for the
// log; it never quotes the token.
func verifyIDToken(raw string, key func(jwtHeader) (*jwk, error), want idTokenCheck) (*idClaims, error) {
	if len(raw) > maxIDTokenBytes {
		return nil, errors.New("token larger than 64 KiB")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("token has %d parts, want 3", len(parts))
	}
	hb, err := b64(parts[0])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Alg != "RS256" && h.Alg != "ES256" {
		return nil, fmt.Errorf("algorithm %q not accepted (only RS256 and ES256)", truncate(h.Alg, 16))
	}
	if len(h.Crit) > 0 {
		return nil, errors.New("header has critical extensions")
	}
	if h.Typ != "" && !strings.EqualFold(h.Typ, "JWT") {
		return nil, fmt.Errorf("token type %q not accepted", truncate(h.Typ, 16))
	}
	sig, err := b64(parts[2])
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	k, err := key(h)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if k == nil || k.Alg != h.Alg {
		return nil, fmt.Errorf("no %s key for the token", h.Alg)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch {
	case h.Alg == "RS256" && k.RSA != nil:
		if err := rsa.VerifyPKCS1v15(k.RSA, crypto.SHA256, digest[:], sig); err != nil {
			return nil, errors.New("bad RS256 signature")
		}
	case h.Alg == "ES256" && k.EC != nil:
		if len(sig) != 64 || !ecdsa.Verify(k.EC, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return nil, errors.New("bad ES256 signature")
		}
	default:
		return nil, fmt.Errorf("key does not fit %s", h.Alg)
	}

	// Only now, with the signature good, are the claims read.
	pb, err := b64(parts[1])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	cl, err := parseClaims(pb)
	if err != nil {
		return nil, err
	}
	return cl, checkClaims(cl, want)
}

func parseClaims(b []byte) (*idClaims, error) {
	var all map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&all); err != nil || all == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	cl := &idClaims{all: all}
	str := func(name string, dst *string) error {
		if v, ok := all[name]; ok && json.Unmarshal(v, dst) != nil {
			return fmt.Errorf("claim %s is not a string", name)
		}
		return nil
	}
	date := func(name string, dst *time.Time) error {
		v, ok := all[name]
		if !ok {
			return nil
		}
		var f float64
		if json.Unmarshal(v, &f) != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
			return fmt.Errorf("claim %s is not a date", name)
		}
		sec, frac := math.Modf(f)
		*dst = time.Unix(int64(sec), int64(frac*1e9))
		return nil
	}
	for _, err := range []error{
		str("iss", &cl.Issuer), str("sub", &cl.Subject), str("azp", &cl.AuthorizedParty),
		str("nonce", &cl.Nonce), str("email", &cl.Email),
		date("exp", &cl.Expiry), date("iat", &cl.IssuedAt), date("nbf", &cl.NotBefore),
	} {
		if err != nil {
			return nil, err
		}
	}
	if v, ok := all["aud"]; ok {
		var one string
		if json.Unmarshal(v, &one) == nil {
			cl.Audience = []string{one}
		} else if json.Unmarshal(v, &cl.Audience) != nil {
			return nil, errors.New("claim aud is neither a string nor a list of strings")
		}
	}
	if v, ok := all["email_verified"]; ok {
		// Some providers send the string "true".
		switch strings.Trim(string(v), `"`) {
		case "true":
			cl.EmailVerified = verifiedTrue
		case "false":
			cl.EmailVerified = verifiedFalse
		default:
			return nil, errors.New("claim email_verified is not a boolean")
		}
	}
	return cl, nil
}

func checkClaims(cl *idClaims, want idTokenCheck) error {
	if cl.Issuer != want.Issuer {
		return fmt.Errorf("issuer %q, want %q", truncate(cl.Issuer, 128), want.Issuer)
	}
	if !slices.Contains(cl.Audience, want.ClientID) {
		return fmt.Errorf("audience %q does not include this client", truncate(strings.Join(cl.Audience, ","), 256))
	}
	// An azp, when present, must be us; with several audiences it must be present (OIDC Core
	// §3.1.3.7).
	if (len(cl.Audience) > 1 || cl.AuthorizedParty != "") && cl.AuthorizedParty != want.ClientID {
		return fmt.Errorf("authorized party %q is not this client", truncate(cl.AuthorizedParty, 128))
	}
	if cl.Subject == "" {
		return errors.New("no subject")
	}
	if cl.Expiry.IsZero() {
		return errors.New("no expiry")
	}
	if !want.Now.Before(cl.Expiry.Add(oidcLeeway)) {
		return fmt.Errorf("expired at %s", cl.Expiry.UTC().Format(time.RFC3339))
	}
	if cl.IssuedAt.IsZero() {
		return errors.New("no issued-at time")
	}
	if cl.IssuedAt.After(want.Now.Add(oidcLeeway)) {
		return fmt.Errorf("issued in the future, at %s", cl.IssuedAt.UTC().Format(time.RFC3339))
	}
	if !cl.NotBefore.IsZero() && cl.NotBefore.After(want.Now.Add(oidcLeeway)) {
		return fmt.Errorf("not valid before %s", cl.NotBefore.UTC().Format(time.RFC3339))
	}
	if want.Nonce == "" || subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(want.Nonce)) != 1 {
		return errors.New("nonce does not match this sign-in")
	}
	return nil
}
