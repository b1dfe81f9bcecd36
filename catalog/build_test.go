package catalog_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/catalog/internal/builder"
)

// The catalog directory holds the builder's inputs (lolrmm/, overrides/) and its output.
var inputs = os.DirFS(".")

func TestBuildIsDeterministic(t *testing.T) {
	a, err := builder.Build(inputs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := builder.Build(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Catalog, b.Catalog) || !bytes.Equal(a.Docs, b.Docs) {
		t.Fatal("two builds over the same inputs differ")
	}
}

// TestCommittedCatalogIsFresh catches an override or LOLRMM change committed without
// `make catalog`, even where make is not run.
func TestCommittedCatalogIsFresh(t *testing.T) {
	out, err := builder.Build(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Catalog, catalog.DefaultDocument()) {
		t.Error("catalog/data/catalog.json is stale: run make catalog")
	}
	docs, err := os.ReadFile("../docs/catalog.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Docs, docs) {
		t.Error("docs/catalog.md is stale: run make catalog")
	}
}

func TestBuildIsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	start := time.Now()
	if _, err := builder.Build(inputs); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("build took %v, budget 2s", d)
	}
}

func BenchmarkBuild(b *testing.B) {
	for b.Loop() {
		if _, err := builder.Build(inputs); err != nil {
			b.Fatal(err)
		}
	}
}
