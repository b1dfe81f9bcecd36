package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Derived writes queued together share one transaction, each in its own savepoint: a write
// that fails is undone alone, the others commit.
func TestRelaxedBatchIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enrollDevice(t, s, devA)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.relaxed(ctx, func(ctx context.Context, tx txConn) error {
				if _, err := tx.ExecContext(ctx, `UPDATE devices SET last_address = ? WHERE id = ?`, fmt.Sprint("10.0.0.", i), devA); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom // after writing: the write must be undone
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO egress (device_id, address, first_seen, last_seen, seen, country, asn, as_org, class) VALUES (?, ?, 0, 0, 1, '', 0, '', '')`,
					devA, fmt.Sprint("192.0.2.", i))
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%2 == 1) != errors.Is(err, boom) || (i%2 == 0 && err != nil) {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	es, err := s.Egresses(ctx, devA)
	if err != nil || len(es) != 20 {
		t.Fatalf("%d egress rows, want the 20 of the good jobs (%v)", len(es), err)
	}
	d, _ := s.Device(ctx, devA)
	var n int
	fmt.Sscanf(d.LastAddress, "10.0.0.%d", &n)
	if n%2 == 1 {
		t.Fatalf("last address %s was written by a failed job", d.LastAddress)
	}
	// Closing with nothing queued returns; a write after Close is refused, not hung.
	s.Close()
	if err := s.relaxed(ctx, func(context.Context, txConn) error { return nil }); err == nil {
		t.Fatal("write after close accepted")
	}
}
