package export_test

import (
	"fmt"
	"time"

	"github.com/farmwatch/farmwatch/server/export"
)

// A receiver checks the signature over the raw body before parsing it, then deduplicates
// on the event ID (not shown).
func ExampleVerify() {
	secret := "whsec_shared_with_farmwatch"
	body := []byte(`{"kind":"band_change","at":"2026-03-01T12:00:00Z","id":"3f9c","device_id":"d-1","from":"medium","to":"high","score":64.5}`)
	sent := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	header := export.Sign(secret, body, sent) // what arrives in X-Farmwatch-Signature

	fmt.Println(export.Verify(secret, header, body, sent.Add(30*time.Second), export.DefaultTolerance))
	fmt.Println(export.Verify(secret, header, body, sent.Add(10*time.Minute), export.DefaultTolerance))
	fmt.Println(export.Verify(secret, header, append(body, ' '), sent, export.DefaultTolerance))
	// Output:
	// <nil>
	// signature timestamp outside tolerance: signed 10m0s ago, tolerance 5m0s
	// signature does not match
}
