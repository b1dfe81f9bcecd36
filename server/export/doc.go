// Package export sends the collector's security events (a device changing score band, a new
// cluster of devices sharing a home) to the systems security teams already run: signed
// webhooks, syslog over TCP or TLS (RFC 5424 messages, RFC 6587 octet-counted framing,
// RFC 5425), and a JSON-lines file for log shippers. It also holds Metrics, a small
// Prometheus text-format registry, so the collector can expose how delivery is going.
//
// New builds an Exporter from a Config; Publish hands it an Event and never blocks. Every sink
// has its own bounded queue and goroutine, so a slow or dead receiver delays only itself; when
// a queue is full the oldest event is dropped and counted (Stats, RegisterMetrics). Delivery is
// at least once: a webhook retried after a lost response, or a syslog batch re-sent after a
// broken connection, can arrive twice. Every event carries a random ID for receivers to
// deduplicate on.
//
// # Verifying a webhook
//
// Each POST carries the event as a JSON object and these headers:
//
//	Content-Type: application/json
//	X-Farmwatch-Event: band_change            (the event's kind)
//	X-Farmwatch-Delivery: 3f9c…               (the event's ID; the same on every retry)
//	X-Farmwatch-Signature: t=1767225600,v1=5d41…
//
// v1 is the hex HMAC-SHA256, keyed with the webhook's shared secret, of the decimal t, a
// full stop, and the raw request body, byte for byte as received (before any JSON parsing). A
// receiver must:
//
//  1. read the raw body and the X-Farmwatch-Signature header;
//  2. recompute the HMAC over "<t>.<body>" and compare it with v1 in constant time (more
//     than one v1 may be present while secrets are rotated; one match suffices);
//  3. reject the request when t is more than 5 minutes away from its own clock, which bounds
//     how long a captured request can be replayed;
//  4. remember the X-Farmwatch-Delivery IDs it has accepted for at least those 5 minutes and
//     answer a repeated ID with 2xx without acting on it again: that closes the replay window
//     and absorbs our retries, which are re-signed with a fresh t.
//
// Verify does steps 2 and 3; Go receivers can call it directly. Trust the kind and ID in the
// signed body, not the informational X-Farmwatch-Event and X-Farmwatch-Delivery headers, which
// the signature does not cover. Answer 2xx once the event is stored; 5xx and 429 (with
// Retry-After if you like) ask for a retry, any other status drops the event.
package export
