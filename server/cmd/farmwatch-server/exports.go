package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/server/api"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/export"
	"github.com/farmwatch/farmwatch/server/store"
)

// exportFlags are serve's export settings.
type exportFlags struct {
	webhooks      multiFlag
	webhookSecret string // file holding the HMAC secret
	syslog        multiFlag
	syslogCA      string
	jsonl         string
}

// exporter builds the exporter from the flags; nil when no sink is configured.
func (e *exportFlags) exporter(log *slog.Logger) (*export.Exporter, error) {
	if len(e.webhooks) == 0 && len(e.syslog) == 0 && e.jsonl == "" {
		return nil, nil
	}
	cfg := export.Config{JSONLPath: e.jsonl, Logger: log}
	if len(e.webhooks) > 0 {
		if e.webhookSecret == "" {
			return nil, usageError{errors.New("--webhook needs --webhook-secret-file (the HMAC key receivers verify signatures with)")}
		}
		b, err := os.ReadFile(e.webhookSecret)
		if err != nil {
			return nil, fmt.Errorf("--webhook-secret-file: %w", err)
		}
		secret := strings.TrimSpace(string(b))
		for _, u := range e.webhooks {
			cfg.Webhooks = append(cfg.Webhooks, export.Webhook{URL: u, Secret: secret})
		}
	}
	var roots *x509.CertPool
	if e.syslogCA != "" {
		b, err := os.ReadFile(e.syslogCA)
		if err != nil {
			return nil, fmt.Errorf("--syslog-ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--syslog-ca %s: no PEM certificates", e.syslogCA)
		}
	}
	for _, s := range e.syslog {
		network, addr, ok := strings.Cut(s, "://")
		if !ok || (network != "tcp" && network != "tls") {
			return nil, usageError{fmt.Errorf("--syslog %q: want tcp://HOST:PORT or tls://HOST:PORT", s)}
		}
		sl := export.Syslog{Network: network, Address: addr}
		if network == "tls" && roots != nil {
			sl.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		}
		cfg.Syslog = append(cfg.Syslog, sl)
	}
	return export.New(cfg)
}

// eventSink adapts the collector's events to the exporter.
func eventSink(ex *export.Exporter, st store.Store) func(collector.Event) {
	return func(e collector.Event) {
		now := time.Now()
		switch e.Kind {
		case "band_change":
			ex.Publish(export.BandChange(store.Device{ID: e.DeviceID, Hostname: e.Hostname, Band: e.To, Score: e.Score}, e.From, now))
		case "new_cluster":
			if e.Cluster != nil {
				ex.Publish(export.NewCluster(*e.Cluster, now))
			}
		}
	}
}

// metricsRegistry publishes the collector's figures. Fleet gauges come from one store
// aggregate, cached for 15 s so that frequent scrapes of a large fleet stay cheap.
func metricsRegistry(col *collector.Collector, st store.Store, ex *export.Exporter) *export.Metrics {
	m := &export.Metrics{}
	names := map[string]string{
		"reports_stored": "reports stored", "reports_duplicate": "replayed reports acknowledged without storing",
		"reports_refused": "reports refused as invalid", "enrollments": "devices enrolled", "enrollments_refused": "enrollments refused",
		"heartbeats": "heartbeats", "band_changes": "devices that changed band", "new_clusters": "clusters found for the first time",
		"reports_conflicting": "reports conflicting with a stored one of the same sequence (a second agent on one identity)",
		"calls_limited":       "agent calls refused with RESOURCE_EXHAUSTED (back-pressure)",
		"reports_pruned":      "stored reports deleted past --report-retention",
	}
	for k, help := range names {
		m.CounterFunc("farmwatch_"+k+"_total", "Collector: "+help+" since start.", nil, func(emit func(float64, ...string)) {
			emit(float64(col.Counters()[k]))
		})
	}
	m.GaugeFunc("farmwatch_agents_connected", "Agents with an open push stream.", func() float64 { return float64(len(col.Connected())) })
	m.GaugeFunc("farmwatch_agent_connections", "Agent connections open (idle ones are closed after --idle-close).", func() float64 { return float64(col.OpenConnections()) })
	var mu sync.Mutex
	var cached store.Overview
	var at time.Time
	overview := func() store.Overview {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) > 15*time.Second {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if o, err := st.Overview(ctx, time.Now(), 1); err == nil {
				cached, at = o, time.Now()
			}
		}
		return cached
	}
	m.GaugeFuncs("farmwatch_devices", "Devices that are not revoked, by band (\"none\": not scored yet).", []string{"band"}, func(emit func(float64, ...string)) {
		o := overview()
		for _, b := range []string{"", "low", "medium", "high", "critical"} {
			label := b
			if label == "" {
				label = "none"
			}
			emit(float64(o.ByBand[b]), label)
		}
	})
	m.GaugeFunc("farmwatch_clusters", "Clusters of devices sharing a home.", func() float64 { return float64(overview().Clusters) })
	if ex != nil {
		ex.RegisterMetrics(m)
	}
	return m
}

// requireToken guards /metrics with an API token of any role (Prometheus: bearer_token_file).
func requireToken(st store.Store, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		v, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || len(v) > 256 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="farmwatch"`)
			http.Error(w, "an API token is required (farmwatch-server token create)", http.StatusUnauthorized)
			return
		}
		if _, err := st.APITokenByHash(r.Context(), api.HashToken(v), time.Now()); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="farmwatch"`)
			http.Error(w, "unknown or revoked API token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
