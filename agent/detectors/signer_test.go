package detectors

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// signedExe builds a tiny Windows program and signs it with Debian's osslsigncode under a
// certificate whose subject is the vendor's name, as a renamed copy of the vendor's binary is.
func signedExe(t *testing.T, dir, subject string) string {
	t.Helper()
	tool, err := exec.LookPath("osslsigncode")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("osslsigncode missing: .ci/run must install it")
		}
		t.Skip("osslsigncode not installed (apt-get install osslsigncode)")
	}
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unsigned := filepath.Join(dir, "u.exe")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", unsigned, "main.go")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: subject, Organization: []string{subject}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	signed := filepath.Join(dir, "svc-host.exe") // a meaningless name
	if out, err := exec.Command(tool, "sign", "-certs", certFile, "-key", keyFile, "-n", "x", "-in", unsigned, "-out", signed).CombinedOutput(); err != nil {
		t.Fatalf("osslsigncode: %v\n%s", err, out)
	}
	return signed
}

func TestRenamedWindowsToolIsRecognisedBySigner(t *testing.T) {
	root := t.TempDir()
	exe := signedExe(t, root, "AnyDesk Software GmbH")
	rel := "/" + filepath.Base(exe)
	cat := detectFactsIn(t, root, "windows", &pb.Process{Pid: 5120, Name: "svc-host.exe", Executable: rel})
	r := bySignalKey(cat, "remote_tool.running", "anydesk")
	if r == nil || !strings.Contains(r.GetEvidence()["recognised_by"], "code signer AnyDesk Software GmbH") {
		t.Fatalf("renamed signed AnyDesk: %v", cat)
	}
	// The same unsigned-by-a-vendor program matches nothing.
	other := t.TempDir()
	exe2 := signedExe(t, other, "Some Unrelated Vendor Ltd")
	if fs := detectFactsIn(t, other, "windows", &pb.Process{Pid: 5121, Name: "svc-host.exe", Executable: "/" + filepath.Base(exe2)}); len(fs) != 0 {
		t.Fatalf("unrelated signer matched: %v", fs)
	}
}
