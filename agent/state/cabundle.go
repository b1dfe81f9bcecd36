package state

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
	"github.com/farmwatch/farmwatch/server/pki"
)

// MaxPinnedCAs bounds the CA bundle an agent accepts (current, next or previous, and room).
const MaxPinnedCAs = 4

// CACerts returns the pinned collector CA certificates.
func (d Dir) CACerts() ([]*x509.Certificate, error) {
	b, err := os.ReadFile(d.File(CAFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("read pinned CA: %w", err)
	}
	var out []*x509.Certificate
	for len(b) > 0 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pinned CA: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no valid certificate in CA file")
	}
	return out, nil
}

// CheckCABundle parses a CA bundle sent by the collector: 1 to MaxPinnedCAs CA certificates
// that share at least one certificate with pinned, so that trust only ever moves from a pinned
// CA to its successor, never to an unrelated one.
func CheckCABundle(ders [][]byte, pinned []*x509.Certificate) ([]*x509.Certificate, error) {
	if len(ders) == 0 || len(ders) > MaxPinnedCAs {
		return nil, fmt.Errorf("CA bundle of %d certificates: want 1 to %d", len(ders), MaxPinnedCAs)
	}
	var out []*x509.Certificate
	shared := false
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, fmt.Errorf("CA bundle: %q is not a CA certificate", c.Subject.CommonName)
		}
		for _, p := range pinned {
			shared = shared || p.Equal(c)
		}
		out = append(out, c)
	}
	if !shared {
		return nil, errors.New("CA bundle shares no certificate with the pinned CAs: refused")
	}
	return out, nil
}

// SaveCABundle pins exactly certs (checked by CheckCABundle).
func (d Dir) SaveCABundle(certs []*x509.Certificate) error {
	var b []byte
	for _, c := range certs {
		b = append(b, pki.EncodeCertPEM(c.Raw)...)
	}
	return atomicfile.Write(d.File(CAFile), b, 0o600)
}
