// Package state is the agent's state directory: its private key, its device certificate, the
// pinned collector CA and the enrollment record. Everything is written atomically with 0600
// permissions inside a 0700 directory, and a key or certificate that does not parse is an
// error, never silently replaced.
package state

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
	"github.com/farmwatch/farmwatch/server/pki"
)

// File names inside the state directory.
const (
	KeyFile     = "key.pem"
	CertFile    = "cert.pem"
	CAFile      = "ca.pem"
	RecordFile  = "agent.json"
	SpoolFile   = "spool.db"
	CatalogFile = "catalog.json"
)

// ErrNotEnrolled means the state directory holds no enrollment yet.
var ErrNotEnrolled = errors.New("agent is not enrolled: run farmwatch-agent enroll")

// Dir is an agent state directory.
type Dir struct{ Path string }

// Record is what the agent remembers of its enrollment.
type Record struct {
	Server     string    `json:"server"`
	DeviceID   string    `json:"device_id"`
	EnrolledAt time.Time `json:"enrolled_at"`
	NotAfter   time.Time `json:"not_after"`
	RenewAfter time.Time `json:"renew_after"`
}

// Open makes sure the directory exists with owner-only permissions.
func Open(path string) (Dir, error) {
	if path == "" {
		return Dir{}, errors.New("state directory not set")
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return Dir{}, fmt.Errorf("state directory: %w", err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o700); err != nil {
			return Dir{}, fmt.Errorf("state directory: %w", err)
		}
	}
	return Dir{Path: path}, nil
}

// File returns the path of a file in the directory.
func (d Dir) File(name string) string { return filepath.Join(d.Path, name) }

// Key loads the agent key, creating an ECDSA P-256 key on first use. The device id is derived
// from this key, so it survives re-enrollment.
func (d Dir) Key() (crypto.Signer, bool, error) {
	b, err := os.ReadFile(d.File(KeyFile))
	if err == nil {
		k, err := pki.ParsePrivateKeyPEM(b)
		if err != nil {
			return nil, false, fmt.Errorf("%s is corrupt (%v): move it away to enroll as a new device", d.File(KeyFile), err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read key: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate key: %w", err)
	}
	pemBytes, err := pki.EncodeKeyPEM(k)
	if err != nil {
		return nil, false, err
	}
	if err := atomicfile.Write(d.File(KeyFile), pemBytes, 0o600); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// CSR makes a certificate signing request for the key.
func CSR(key crypto.Signer, hostname string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: hostname}}, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	return der, nil
}

// SaveCA pins the collector CA.
func (d Dir) SaveCA(pemBytes []byte) error {
	if _, err := pki.ParseCertificatePEM(pemBytes); err != nil {
		return fmt.Errorf("collector CA: %w", err)
	}
	return atomicfile.Write(d.File(CAFile), pemBytes, 0o600)
}

// CAPool returns the pinned collector CA as a pool.
func (d Dir) CAPool() (*x509.CertPool, error) {
	b, err := os.ReadFile(d.File(CAFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("read pinned CA: %w", err)
	}
	return PoolFromPEM(b)
}

// PoolFromPEM parses every certificate of a PEM bundle into a pool.
func PoolFromPEM(b []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, errors.New("no valid certificate in CA file")
	}
	return p, nil
}

// SaveEnrollment stores a freshly issued certificate (after checking it belongs to key and
// chains to the pinned CA) and the enrollment record.
func (d Dir) SaveEnrollment(key crypto.Signer, certDER []byte, rec Record) error {
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return fmt.Errorf("issued certificate: %w", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := cert.PublicKey.(equaler); !ok || !e.Equal(key.Public()) {
		return errors.New("issued certificate is not for this agent's key")
	}
	pool, err := d.CAPool()
	if err != nil {
		return err
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: cert.NotBefore.Add(time.Minute)}); err != nil {
		return fmt.Errorf("issued certificate does not chain to the pinned CA: %w", err)
	}
	if err := atomicfile.Write(d.File(CertFile), pki.EncodeCertPEM(certDER), 0o600); err != nil {
		return err
	}
	return d.SaveRecord(rec)
}

// SaveRecord writes the enrollment record.
func (d Dir) SaveRecord(rec Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.File(RecordFile), append(b, '\n'), 0o600)
}

// Record reads the enrollment record.
func (d Dir) Record() (Record, error) {
	var rec Record
	b, err := os.ReadFile(d.File(RecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return rec, ErrNotEnrolled
	}
	if err != nil {
		return rec, fmt.Errorf("read enrollment record: %w", err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s is corrupt (%v): enroll again", d.File(RecordFile), err)
	}
	if rec.Server == "" || rec.DeviceID == "" {
		return rec, fmt.Errorf("%s is incomplete: enroll again", d.File(RecordFile))
	}
	return rec, nil
}

// Certificate loads the device certificate with its key for TLS.
func (d Dir) Certificate() (tls.Certificate, *x509.Certificate, error) {
	certPEM, err := os.ReadFile(d.File(CertFile))
	if errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, nil, ErrNotEnrolled
	}
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(d.File(KeyFile))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("read key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("device certificate or key is corrupt (%v): enroll again", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pair.Leaf = leaf
	return pair, leaf, nil
}

// SaveCatalog keeps a catalog document the collector pushed, for the next start.
func (d Dir) SaveCatalog(doc []byte) error {
	return atomicfile.Write(d.File(CatalogFile), doc, 0o600)
}

// Catalog reads the saved catalog document; os.ErrNotExist when there is none.
func (d Dir) Catalog() ([]byte, error) {
	return os.ReadFile(d.File(CatalogFile))
}
