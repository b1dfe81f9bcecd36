package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/farmwatch/farmwatch/server/pki"
)

// consoleTLS decides whether the console is served over HTTPS and with which certificate:
// "on" always, "off" never (plain HTTP: only sensible on loopback or behind a TLS proxy),
// "auto" (default) on unless the console listens on loopback only. Without --console-cert and
// --console-key the collector CA issues the console a certificate for hosts, so a browser that
// trusts DATA/ca.pem trusts the console.
func consoleTLS(mode, listen, certFile, keyFile string, ca *pki.CA, hosts []string, now time.Time) (*tls.Config, error) {
	on := false
	switch mode {
	case "on":
		on = true
	case "off":
	case "auto", "":
		on = !loopbackOnly(listen)
	default:
		return nil, usageError{fmt.Errorf("--console-tls %q: want auto, on or off", mode)}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, usageError{fmt.Errorf("--console-cert and --console-key go together")}
	}
	if certFile != "" {
		on = mode != "off"
	}
	if !on {
		return nil, nil
	}
	var cert tls.Certificate
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("console certificate: %w", err)
		}
		cert = c
	} else {
		der, key, err := ca.IssueServer(hosts, now, 365*24*time.Hour)
		if err != nil {
			return nil, fmt.Errorf("console certificate: %w", err)
		}
		cert = tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// loopbackOnly says whether a listen address binds loopback only.
func loopbackOnly(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
