package eval

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// Seeding the suite into a real store gives every device the score the evaluator gives it.
func TestSeedMatchesTheEvaluation(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	p := policy.Default()
	n, err := Seed(ctx, st, suiteDir, p, now)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(suiteDir, p, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(r.Results) {
		t.Fatalf("seeded %d, evaluated %d", n, len(r.Results))
	}
	for _, dr := range r.Results {
		d, err := st.Device(ctx, SeedID(dr.Fleet, dr.ID))
		if err != nil {
			t.Fatal(err)
		}
		// The store keeps times to the millisecond: decay may move a score by a rounding step.
		if d.Band != dr.Band || math.Abs(d.Score-dr.Score) > 0.5 {
			t.Errorf("%s: seeded %.1f %s, evaluated %.1f %s", dr.ID, d.Score, d.Band, dr.Score, dr.Band)
		}
	}
	if cs, _ := st.Clusters(ctx); len(cs) != 3 {
		t.Errorf("clusters = %d, want 3", len(cs))
	}
}
