// Package pki is the collector's certificate authority: it creates or loads the CA on first
// start, turns agent CSRs into short-lived client certificates, issues the collector's own TLS
// server certificate, and derives device ids from public keys.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
)

// File names inside the collector's data directory.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// DeviceIDPrefix marks certificates issued to devices (the CN is DeviceIDPrefix+id).
const DeviceIDPrefix = "device:"

// CA is the collector certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertPEM is the CA certificate as stored in DATA/ca.pem; agents pin it.
	CertPEM []byte
	// Next is a CA staged for rotation and Previous one being retired (see rotate.go); both
	// are trusted for device certificates and pinned by agents, neither signs.
	Next, Previous *x509.Certificate
}

// LoadOrCreate loads the CA from dir, or creates one (ECDSA P-256, 10 years) on first start.
// The key is written 0600; an existing but unreadable or inconsistent CA is an error, never
// silently replaced: agents pin it.
func LoadOrCreate(dir string, now time.Time) (*CA, bool, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	ca, err := Load(dir)
	if err == nil {
		return ca, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if _, statErr := os.Stat(keyPath); statErr == nil {
		return nil, false, fmt.Errorf("%s exists but %s does not: refusing to create a new CA over a half-present one", keyPath, certPath)
	}
	keyPEM, certPEM, err := newCA(now)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return nil, false, err
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return nil, false, err
	}
	ca, err = Load(dir)
	return ca, true, err
}

// newCA creates a CA key and its self-signed certificate (ECDSA P-256, 10 years), as PEM.
func newCA(now time.Time) (keyPEM, certPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := NewSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Farmwatch collector CA", Organization: []string{"Farmwatch"}, SerialNumber: serial.Text(16)[:8]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// Load reads the CA from dir. A missing certificate is reported as os.ErrNotExist.
func Load(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CACertFile, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CAKeyFile, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%s does not belong to %s", CAKeyFile, CACertFile)
	}
	ca := &CA{Cert: cert, Key: key, CertPEM: certPEM}
	if ca.Next, err = loadOptional(dir, CANextCertFile); err != nil {
		return nil, err
	}
	if ca.Previous, err = loadOptional(dir, CAPrevCertFile); err != nil {
		return nil, err
	}
	return ca, nil
}

// Pool returns a cert pool holding the trusted CAs (the current one, and during a rotation
// the next or previous one).
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range ca.Trusted() {
		p.AddCert(c)
	}
	return p
}

// DeviceID derives a device id from a public key: hex of the first 16 bytes of SHA-256 over
// the DER SubjectPublicKeyInfo. The same key always yields the same id.
func DeviceID(pub crypto.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(spki)
	return hex.EncodeToString(sum[:16]), nil
}

// ParseCSR parses and checks a DER CSR: its signature must verify and its key must be ECDSA
// P-256/P-384 or Ed25519.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	if len(der) == 0 {
		return nil, errors.New("empty CSR")
	}
	if len(der) > 8<<10 {
		return nil, fmt.Errorf("CSR of %d bytes exceeds 8 KiB", len(der))
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature: %w", err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, errors.New("CSR key: only ECDSA P-256/P-384 or Ed25519 are accepted")
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("CSR key type %T not accepted: use ECDSA P-256 or Ed25519", csr.PublicKey)
	}
	return csr, nil
}

// IssueDevice signs a client certificate for the CSR's key, valid for ttl. Only the key is
// taken from the CSR; the subject is set by the CA.
func (ca *CA) IssueDevice(csr *x509.CertificateRequest, deviceID string, now time.Time, ttl time.Duration) (*x509.Certificate, error) {
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(ttl)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: DeviceIDPrefix + deviceID, Organization: []string{"Farmwatch agents"}},
		NotBefore:    now.Add(-5 * time.Minute), // tolerate small clock skew on laptops
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign device certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// IssueServer issues the collector's TLS server certificate for the given host names and
// addresses, with a fresh key.
func (ca *CA) IssueServer(hosts []string, now time.Time, ttl time.Duration) (certDER []byte, key crypto.Signer, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate server key: %w", err)
	}
	serial, err := NewSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Farmwatch collector"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, k.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign server certificate: %w", err)
	}
	return der, k, nil
}

// NewSerial returns a random 128-bit certificate serial number.
func NewSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

// ParseCertificatePEM parses the first CERTIFICATE block.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// ParsePrivateKeyPEM parses a PKCS#8 or SEC1 EC private key.
func ParsePrivateKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	switch blk.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#8 key: %w", err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key type %T cannot sign", k)
		}
		return s, nil
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(blk.Bytes)
	}
	return nil, fmt.Errorf("unexpected PEM block %q", blk.Type)
}

// EncodeCertPEM encodes DER as a CERTIFICATE block.
func EncodeCertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// EncodeKeyPEM encodes a private key as PKCS#8.
func EncodeKeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// SessionTicketKey is the TLS session-ticket key of a UTC day (days since 1970), derived from
// the CA's private key with HKDF-SHA256: every replica holding this CA derives the same keys,
// so agents resume their TLS sessions across collector restarts and replicas, and a new CA
// (rotation) means new keys. TLS 1.3 resumption in Go always runs a fresh (EC)DHE exchange, so
// the key does not expose past traffic.
func (ca *CA) SessionTicketKey(day int64) ([32]byte, error) {
	var out [32]byte
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return out, fmt.Errorf("session ticket key: %w", err)
	}
	k, err := hkdf.Key(sha256.New, der, nil, "farmwatch tls session tickets v1 day "+strconv.FormatInt(day, 10), len(out))
	if err != nil {
		return out, fmt.Errorf("session ticket key: %w", err)
	}
	copy(out[:], k)
	return out, nil
}
