package loadgen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/agent/client"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/platform/atomicfile"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/pki"
)

// Identity is one simulated device's enrollment: its key, the certificate the collector
// issued and the hardware identity it enrolled with.
type Identity struct {
	DeviceID string
	Hardware *pb.HardwareIdentity
	Cert     tls.Certificate // with Leaf set
	// Sequence is the last report sequence the collector acknowledged for this device in an
	// earlier run (from the state cache), so that a new run continues after it.
	Sequence uint64
}

// newHardware makes a distinct hardware identity for simulated device i, on the platform of
// the sample it will report as.
func newHardware(i int, s Sample) *pb.HardwareIdentity {
	var b [30]byte
	_, _ = rand.Read(b[:])
	h := s.Report.GetFacts().GetHost()
	hw := &pb.HardwareIdentity{
		Hostname:      fmt.Sprintf("lg%05d-%s", i, firstNonEmpty(h.GetHostname(), "host")),
		Os:            firstNonEmpty(h.GetOs(), "linux"),
		Platform:      h.GetPlatform(),
		OsVersion:     h.GetOsVersion(),
		KernelVersion: h.GetKernelVersion(),
		Arch:          firstNonEmpty(h.GetArch(), "amd64"),
		HardwareUuid:  fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]),
		SerialNumber:  fmt.Sprintf("LG%X", b[16:22]),
		// A locally administered unicast MAC.
		MacAddresses: []string{net.HardwareAddr{0x02, b[22], b[23], b[24], b[25], b[26]}.String()},
		MachineId:    hex.EncodeToString(b[14:30]),
	}
	if len(hw.Hostname) > 63 {
		hw.Hostname = hw.Hostname[:63]
	}
	return hw
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// enroll makes a P-256 key, sends a CSR with the secret and hw through the real
// EnrollmentService.Enroll RPC (as agent/enroll does), and returns the identity. conn is an
// unauthenticated connection to the collector, shared by enrollments.
func enroll(ctx context.Context, conn *client.Conn, secret, version string, hw *pb.HardwareIdentity) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := state.CSR(key, hw.GetHostname())
	if err != nil {
		return nil, err
	}
	resp, err := conn.Enroll(ctx, &pb.EnrollRequest{EnrollSecret: secret, CsrDer: csr, Hardware: hw, AgentVersion: version})
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(resp.GetCertificateDer())
	if err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return nil, errors.New("issued certificate is not for this key")
	}
	return &Identity{DeviceID: resp.GetDeviceId(), Hardware: hw,
		Cert: tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}}, nil
}

// The state cache: one JSON file holding every identity enrolled against one collector CA.

const cacheFile = "identities.json"

type cacheDoc struct {
	// CA is the SHA-256 of the collector CA certificate (DER) the identities chain to: a
	// cache made against another collector is not used.
	CA      string        `json:"ca_sha256"`
	Devices []cachedIdent `json:"devices"`
}

type cachedIdent struct {
	DeviceID string `json:"device_id"`
	KeyPEM   string `json:"key_pem"`
	CertDER  []byte `json:"cert_der"`
	Hardware []byte `json:"hardware"` // pb.HardwareIdentity, proto binary
	Sequence uint64 `json:"sequence"`
}

func caFingerprint(caPEM []byte) (string, error) {
	c, err := pki.ParseCertificatePEM(caPEM)
	if err != nil {
		return "", fmt.Errorf("collector CA: %w", err)
	}
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:]), nil
}

// loadCache reads the identities cached in dir for the collector CA caPEM. Identities whose
// certificate expires within validFor are left out (they enroll again). A missing cache, or
// one made against another CA, is empty.
func loadCache(dir string, caPEM []byte, now time.Time, validFor time.Duration) ([]*Identity, error) {
	fp, err := caFingerprint(caPEM)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, cacheFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc cacheDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): remove it", filepath.Join(dir, cacheFile), err)
	}
	if doc.CA != fp {
		return nil, nil
	}
	roots, err := state.PoolFromPEM(caPEM)
	if err != nil {
		return nil, err
	}
	var out []*Identity
	for _, c := range doc.Devices {
		key, err := pki.ParsePrivateKeyPEM([]byte(c.KeyPEM))
		if err != nil {
			return nil, fmt.Errorf("cached device %s: %w", c.DeviceID, err)
		}
		leaf, err := x509.ParseCertificate(c.CertDER)
		if err != nil {
			return nil, fmt.Errorf("cached device %s: %w", c.DeviceID, err)
		}
		if now.Add(validFor).After(leaf.NotAfter) {
			continue
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
			continue
		}
		hw := &pb.HardwareIdentity{}
		if err := proto.Unmarshal(c.Hardware, hw); err != nil {
			return nil, fmt.Errorf("cached device %s: %w", c.DeviceID, err)
		}
		out = append(out, &Identity{DeviceID: c.DeviceID, Hardware: hw, Sequence: c.Sequence,
			Cert: tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}})
	}
	return out, nil
}

// saveCache writes ids (with their last acknowledged sequences) to dir, atomically, 0600.
func saveCache(dir string, caPEM []byte, ids []*Identity) error {
	fp, err := caFingerprint(caPEM)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	doc := cacheDoc{CA: fp}
	for _, id := range ids {
		signer, ok := id.Cert.PrivateKey.(*ecdsa.PrivateKey)
		if !ok {
			return fmt.Errorf("device %s: unexpected key type", id.DeviceID)
		}
		keyPEM, err := pki.EncodeKeyPEM(signer)
		if err != nil {
			return err
		}
		hw, err := proto.Marshal(id.Hardware)
		if err != nil {
			return err
		}
		doc.Devices = append(doc.Devices, cachedIdent{DeviceID: id.DeviceID, KeyPEM: string(keyPEM), CertDER: id.Cert.Certificate[0],
			Hardware: hw, Sequence: id.Sequence})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, cacheFile), b, 0o600)
}
