package main

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"
)

// Signer Authenticode-signs Windows executables and MSIs with osslsigncode.
type Signer struct {
	Cert, Key string // PEM files: the code-signing certificate (with its chain) and its key
	Pass      string // key passphrase, if the key is encrypted
	Timestamp string // RFC 3161 time-stamping URL; empty signs with SOURCE_DATE_EPOCH as the time
	Tool      string // osslsigncode
}

// SignerFromEnv reads FARMWATCH_SIGN_CERT, FARMWATCH_SIGN_KEY, FARMWATCH_SIGN_PASS and
// FARMWATCH_SIGN_TIMESTAMP; it returns nil when neither certificate nor key is set.
func SignerFromEnv() (*Signer, error) {
	s := &Signer{Cert: os.Getenv("FARMWATCH_SIGN_CERT"), Key: os.Getenv("FARMWATCH_SIGN_KEY"),
		Pass: os.Getenv("FARMWATCH_SIGN_PASS"), Timestamp: os.Getenv("FARMWATCH_SIGN_TIMESTAMP"), Tool: "osslsigncode"}
	switch {
	case s.Cert == "" && s.Key == "":
		return nil, nil
	case s.Cert == "" || s.Key == "":
		return nil, errors.New("set both FARMWATCH_SIGN_CERT and FARMWATCH_SIGN_KEY to sign, or neither")
	}
	return s, nil
}

// Sign signs path in place. Without a time-stamping server the signing time is epoch, so a
// signed build is as reproducible as an unsigned one (RSA PKCS#1 v1.5 signatures are
// deterministic); release builds should set a server so signatures outlive the certificate.
func (s *Signer) Sign(ctx context.Context, path string, epoch time.Time) error {
	tmp := path + ".signed"
	args := []string{"sign", "-certs", s.Cert, "-key", s.Key, "-h", "sha256",
		"-n", "Farmwatch agent", "-i", "https://github.com/farmwatch/farmwatch"}
	if s.Pass != "" {
		// -readpass keeps the passphrase off the command line (and out of ps).
		f, err := os.CreateTemp("", "farmwatch-sign-pass-")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		_, err = f.WriteString(s.Pass)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		args = append(args, "-readpass", f.Name())
	}
	if s.Timestamp != "" {
		args = append(args, "-ts", s.Timestamp)
	} else {
		args = append(args, "-time", strconv.FormatInt(epoch.Unix(), 10))
	}
	args = append(args, "-in", path, "-out", tmp)
	if err := run(ctx, nil, s.Tool, args...); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
