package collector

import (
	"context"
	"crypto/x509"
	"sync"
	"time"
)

// CertRecheck is how long a certificate found valid stays trusted on an open connection
// before the store is asked again. Every handshake asks the store; on a connection already
// open, a revocation takes effect within this long (the answer to a revoked device is then
// PERMISSION_DENIED / UNAUTHENTICATED as at a handshake). Asking the store at every call was
// 18% of the collector's CPU under load.
const CertRecheck = 10 * time.Second

type certEntry struct {
	id    string
	until time.Time
}

type certCache struct {
	mu    sync.Mutex
	m     map[string]certEntry
	swept time.Time
}

// checkCertCached is checkCert with a short memory of good answers (never of refusals).
func (c *Collector) checkCertCached(ctx context.Context, cert *x509.Certificate) (string, error) {
	cc := &c.certs
	cc.mu.Lock()
	if e, ok := cc.m[certKey(cert)]; ok && time.Now().Before(e.until) {
		cc.mu.Unlock()
		return e.id, nil
	}
	cc.mu.Unlock()
	return c.checkCertFresh(ctx, cert)
}

// checkCertFresh asks the store (as every handshake does) and remembers a good answer, so that
// the first calls on the new connection need not ask again.
func (c *Collector) checkCertFresh(ctx context.Context, cert *x509.Certificate) (string, error) {
	id, err := c.checkCert(ctx, cert)
	if err != nil {
		return "", err
	}
	now := time.Now()
	cc := &c.certs
	cc.mu.Lock()
	if cc.m == nil {
		cc.m = map[string]certEntry{}
	}
	if now.Sub(cc.swept) > time.Minute {
		for k, e := range cc.m {
			if now.After(e.until) {
				delete(cc.m, k)
			}
		}
		cc.swept = now
	}
	cc.m[certKey(cert)] = certEntry{id: id, until: now.Add(CertRecheck)}
	cc.mu.Unlock()
	return id, nil
}

// certKey names one certificate: serials are random 128-bit numbers from our CA(s); with the
// issuer they name one certificate, in 50 bytes rather than the whole DER.
func certKey(cert *x509.Certificate) string {
	return string(cert.RawIssuer) + cert.SerialNumber.String()
}
