package state

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func testCA(t testing.TB, name string, isCA bool) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestCheckCABundle(t *testing.T) {
	old, next, other, leaf := testCA(t, "old", true), testCA(t, "next", true), testCA(t, "other", true), testCA(t, "leaf", false)
	pinned := []*x509.Certificate{old}
	if got, err := CheckCABundle([][]byte{old.Raw, next.Raw}, pinned); err != nil || len(got) != 2 {
		t.Fatalf("successor bundle: %v", err)
	}
	for name, b := range map[string][][]byte{
		"unrelated CA":  {other.Raw},
		"not a CA":      {old.Raw, leaf.Raw},
		"empty":         nil,
		"garbage":       {old.Raw, []byte("garbage")},
		"too many":      {old.Raw, next.Raw, other.Raw, other.Raw, other.Raw},
		"only the next": {next.Raw},
	} {
		if _, err := CheckCABundle(b, pinned); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveCABundle([]*x509.Certificate{next, old}); err != nil {
		t.Fatal(err)
	}
	got, err := d.CACerts()
	if err != nil || len(got) != 2 || !got[0].Equal(next) {
		t.Fatalf("round trip: %v", err)
	}
}

// The bundle arrives from the collector: any bytes must give an error or a checked bundle.
func FuzzCheckCABundle(f *testing.F) {
	old, next := testCA(f, "old", true), testCA(f, "next", true)
	f.Add(old.Raw, next.Raw)
	f.Add([]byte{0x30, 0x82}, []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		got, err := CheckCABundle([][]byte{a, b}, []*x509.Certificate{old})
		if err == nil {
			shared := false
			for _, c := range got {
				if !c.IsCA {
					t.Fatal("accepted a non-CA certificate")
				}
				shared = shared || c.Equal(old)
			}
			if !shared {
				t.Fatal("accepted a bundle without the pinned CA")
			}
		}
	})
}
