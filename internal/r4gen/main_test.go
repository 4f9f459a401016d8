package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestTablesUpToDate fails when the tables.go of package compartment or
// search is not what the generator makes from their data/: run
// go generate ./internal/compartment (or ./internal/search).
func TestTablesUpToDate(t *testing.T) {
	root := filepath.Join("..")
	data := map[string][]string{
		"compartment": {"patient-compartment.json", "search-paths.json"},
		"search":      {"search-params.json"},
	}
	dir := t.TempDir()
	for pkg, files := range data {
		if err := os.MkdirAll(filepath.Join(dir, pkg, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(filepath.Join(root, pkg, "data", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, pkg, "data", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	for pkg := range data {
		t.Run(pkg, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(dir, pkg, "tables.go"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(root, pkg, "tables.go"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s/tables.go is stale: run go generate ./internal/%s", pkg, pkg)
			}
		})
	}
}
