package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/config"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/store"
)

// A service that starts unenrolled with only the server, the secret and the CA's pin (what an
// MSI carries) fetches the CA from the collector, checks the pin, and enrolls; a wrong pin is
// refused and nothing is enrolled.
func TestEnrollWithCAPinAgainstARealCollector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	ca, _, err := pki.LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	col, err := collector.New(collector.Options{Store: st, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := col.TLSConfig([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := col.Server(tlsConf)
	go gs.Serve(l)
	defer gs.Stop()
	secret := "fwe_test_pin"
	if err := st.CreateEnrollSecret(ctx, store.EnrollSecret{ID: "es_pin", Name: "pin", Hash: collector.HashSecret(secret), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)

	bad, _ := state.Open(filepath.Join(t.TempDir(), "bad"))
	cfg := config.Config{Server: l.Addr().String(), EnrollSecret: secret, CAPin: strings.Repeat("0", 64)}
	if err := enrollIfNeeded(ctx, cfg, bad, log); err == nil || !strings.Contains(err.Error(), "ca_pin") {
		t.Fatalf("wrong pin: %v", err)
	}
	if _, err := bad.Record(); err == nil {
		t.Fatal("enrolled with a wrong pin")
	}

	good, _ := state.Open(filepath.Join(t.TempDir(), "good"))
	cfg.CAPin = pinOf(ca.Cert.Raw)
	if err := enrollIfNeeded(ctx, cfg, good, log); err != nil {
		t.Fatal(err)
	}
	rec, err := good.Record()
	if err != nil || rec.DeviceID == "" {
		t.Fatalf("not enrolled: %+v %v", rec, err)
	}
	// Enrolled already: nothing to do.
	if err := enrollIfNeeded(ctx, cfg, good, log); err != nil {
		t.Fatal(err)
	}
}

func TestUpgradeMarker(t *testing.T) {
	dir := t.TempDir()
	if upgrading(dir) {
		t.Fatal("no marker, yet upgrading")
	}
	os.WriteFile(filepath.Join(dir, UpgradeMarker), nil, 0o600)
	if !upgrading(dir) {
		t.Fatal("fresh marker not seen")
	}
	if upgrading(dir) {
		t.Fatal("marker not consumed")
	}
	p := filepath.Join(dir, UpgradeMarker)
	os.WriteFile(p, nil, 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	if upgrading(dir) {
		t.Fatal("a stale marker counted")
	}
}
