package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
)

// CA rotation, in three steps, each taking effect at the collector's next start:
//
//  1. Stage: a next CA is created (ca-next.pem, ca-next-key.pem). The collector trusts it and
//     hands the bundle (current and next) to every agent in its heartbeat answers; agents pin
//     both. Nothing else changes.
//  2. Promote, once every active agent pins the next CA (`farmwatch-server ca status`): the next
//     CA signs from now on (the collector's TLS certificate, new and renewed device
//     certificates); the old one is kept as ca-previous.pem so that device certificates it
//     issued stay valid until they are renewed.
//  3. Finish, once the old device certificates have been renewed (one certificate lifetime
//     after promoting): the previous CA is no longer trusted and its files are deleted.
//
// An agent that missed the bundle (offline from stage to promote) cannot verify the promoted
// collector: it says so and must be enrolled again.

// File names of a rotation in progress.
const (
	CANextCertFile = "ca-next.pem"
	CANextKeyFile  = "ca-next-key.pem"
	CAPrevCertFile = "ca-previous.pem"
	CAPrevKeyFile  = "ca-previous-key.pem"
)

// Fingerprint is the hex SHA-256 of a certificate's DER: how agents and collectors name CAs.
func Fingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// Trusted returns the CAs agents' certificates may chain to and agents must pin: the current
// one first, then the staged next one, then the previous one.
func (ca *CA) Trusted() []*x509.Certificate {
	out := []*x509.Certificate{ca.Cert}
	if ca.Next != nil {
		out = append(out, ca.Next)
	}
	if ca.Previous != nil {
		out = append(out, ca.Previous)
	}
	return out
}

// TrustedDER is Trusted as DER, for the wire.
func (ca *CA) TrustedDER() [][]byte {
	var out [][]byte
	for _, c := range ca.Trusted() {
		out = append(out, c.Raw)
	}
	return out
}

// loadOptional reads a rotation certificate, nil when absent.
func loadOptional(dir, name string) (*x509.Certificate, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := ParseCertificatePEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !c.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate", name)
	}
	return c, nil
}

// StageNext creates the next CA (step 1). It refuses when one is staged already.
func StageNext(dir string, now time.Time) (*x509.Certificate, error) {
	if _, err := Load(dir); err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, CANextCertFile), filepath.Join(dir, CANextKeyFile)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("%s exists: a next CA is staged already (promote it, or delete both ca-next files to start over)", p)
		}
	}
	if prev, _ := loadOptional(dir, CAPrevCertFile); prev != nil {
		return nil, fmt.Errorf("the previous rotation is not finished (%s exists): run `ca finish` first", CAPrevCertFile)
	}
	keyPEM, certPEM, err := newCA(now)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	return ParseCertificatePEM(certPEM)
}

// Promote makes the staged next CA the current one and keeps the current one as previous
// (step 2). Files are moved so that a crash between steps leaves a state Load accepts or
// reports clearly.
func Promote(dir string) error {
	ca, err := Load(dir)
	if err != nil {
		return err
	}
	if ca.Next == nil {
		return errors.New("no next CA is staged: run `ca stage` first")
	}
	if ca.Previous != nil {
		return fmt.Errorf("the previous rotation is not finished (%s exists): run `ca finish` first", CAPrevCertFile)
	}
	moves := [][2]string{
		{CACertFile, CAPrevCertFile}, {CAKeyFile, CAPrevKeyFile},
		{CANextCertFile, CACertFile}, {CANextKeyFile, CAKeyFile},
	}
	for _, m := range moves {
		if err := os.Rename(filepath.Join(dir, m[0]), filepath.Join(dir, m[1])); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
	}
	_, err = Load(dir)
	return err
}

// Finish stops trusting the previous CA and deletes its files (step 3).
func Finish(dir string) error {
	if _, err := Load(dir); err != nil {
		return err
	}
	found := false
	for _, name := range []string{CAPrevCertFile, CAPrevKeyFile} {
		err := os.Remove(filepath.Join(dir, name))
		if err == nil {
			found = true
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if !found {
		return errors.New("no previous CA: nothing to finish")
	}
	return nil
}
