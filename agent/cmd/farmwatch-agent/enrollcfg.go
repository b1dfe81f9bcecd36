package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/agent/config"
	"github.com/farmwatch/farmwatch/agent/enroll"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/platform/host"
)

// errPinMismatch: the CA offered or configured is not the pinned one (retrying will not help).
var errPinMismatch = errors.New("collector CA does not match ca_pin")

// enrollFromConfig enrolls with the configured collector. The CA to pin is ca_file or ca_pem;
// with ca_pin alone (what an MSI or a profile can carry) it is taken from the collector's own
// TLS chain, accepted only if its SHA-256 matches the pin.
func enrollFromConfig(ctx context.Context, cfg config.Config, dir state.Dir, log *slog.Logger) (state.Record, error) {
	caPEM, err := collectorCA(ctx, cfg)
	if err != nil {
		return state.Record{}, err
	}
	id, err := host.Read(ctx, "")
	if err != nil {
		log.Warn("host identity incomplete", "err", err)
	}
	return enroll.Enroll(ctx, dir, enroll.Request{
		Server: cfg.Server, CAPEM: caPEM, Secret: strings.TrimSpace(cfg.EnrollSecret), Hardware: scan.Identity(id), AgentVersion: version,
	})
}

// collectorCA returns the CA to pin, checked against ca_pin when one is set.
func collectorCA(ctx context.Context, cfg config.Config) ([]byte, error) {
	if cfg.CAFile != "" || cfg.CAPEM != "" {
		b, err := cfg.CA()
		if err != nil {
			return nil, fmt.Errorf("read collector CA: %w", err)
		}
		if cfg.CAPin != "" {
			blk, _ := pem.Decode(b)
			if blk == nil || pinOf(blk.Bytes) != cfg.CAPin {
				return nil, fmt.Errorf("%w: the configured CA file or PEM", errPinMismatch)
			}
		}
		return b, nil
	}
	if cfg.CAPin == "" {
		return nil, errors.New("no collector CA configured (ca_file, ca_pem or ca_pin)")
	}
	return fetchPinnedCA(ctx, cfg.Server, cfg.CAPin)
}

func pinOf(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
}

// fetchPinnedCA reads the collector's certificate chain and returns the CA certificate whose
// SHA-256 is pin. The handshake does not verify the chain: the pin does.
func fetchPinnedCA(ctx context.Context, server, pin string) ([]byte, error) {
	host, _, err := net.SplitHostPort(server)
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", server, err)
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{
		ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}, // the pin is checked below
	}}
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, fmt.Errorf("fetch the collector's CA from %s: %w", server, err)
	}
	defer conn.Close()
	for _, c := range conn.(*tls.Conn).ConnectionState().PeerCertificates {
		if c.IsCA && pinOf(c.Raw) == pin {
			return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), nil
		}
	}
	return nil, fmt.Errorf("%w: the collector at %s presented no CA certificate with that SHA-256", errPinMismatch, server)
}

// enrollIfNeeded enrolls a service that starts unenrolled with server, secret and CA in its
// configuration (an MSI or pkg install), retrying with backoff while the collector is
// unreachable; an already enrolled agent, or one without that configuration, goes on.
func enrollIfNeeded(ctx context.Context, cfg config.Config, dir state.Dir, log *slog.Logger) error {
	if _, err := dir.Record(); !errors.Is(err, state.ErrNotEnrolled) {
		return nil
	}
	if cfg.Server == "" || cfg.EnrollSecret == "" || (cfg.CAFile == "" && cfg.CAPEM == "" && cfg.CAPin == "") {
		return nil // run's own check says what is missing
	}
	wait := 15 * time.Second
	for {
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		rec, err := enrollFromConfig(actx, cfg, dir, log)
		cancel()
		if err == nil {
			log.Info("enrolled", "device", rec.DeviceID, "server", rec.Server)
			return nil
		}
		if strings.Contains(err.Error(), "invalid enroll secret") || errors.Is(err, errPinMismatch) {
			return err // retrying will not help
		}
		log.Warn("enrollment failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Minute)
	}
}
