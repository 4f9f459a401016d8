package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sample is `go test -bench` output for every benchmark the table needs,
// two runs each.
func sample() string {
	var b strings.Builder
	b.WriteString("goos: linux\ngoarch: amd64\ncpu: Test CPU\n")
	line := func(name string, ns, bytes, allocs float64, size int) {
		mbs := ""
		if size > 0 {
			mbs = fmt.Sprintf("\t%.2f MB/s", float64(size)/(2*ns)*1e3)
		}
		// CPU time is reported as half the wall time: the table must use it.
		fmt.Fprintf(&b, "%s-2\t1000\t%.1f ns/op%s\t%.1f cpu-ns/op\t%.0f B/op\t%.0f allocs/op\n", name, 2*ns, mbs, ns, bytes, allocs)
	}
	for run := range 2 {
		k := float64(1 + run) // the medians are the means of two runs
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			line("BenchmarkFirstSeen/"+alg+"/smartguard", 44000*k, 8000, 95, 0)
			line("BenchmarkFirstSeen/"+alg+"/golang-jwt", 40000*k, 6000, 90, 0)
			line("BenchmarkFirstSeen/"+alg+"/auth0", 50000*k, 14000, 190, 0)
		}
		line("BenchmarkCached/smartguard", 700*k, 0, 0, 0)
		line("BenchmarkCached/golang-jwt", 40000*k, 6000, 90, 0)
		line("BenchmarkCached/auth0", 50000*k, 14000, 190, 0)
		for _, sc := range []string{"read", "user-search", "patient-search", "patient-search-100", "granular-search", "granular-search-100"} {
			line("BenchmarkProtect/"+sc+"/unprotected", 200*k, 16, 1, 14000)
			line("BenchmarkProtect/"+sc+"/smartguard", 2200*k, 1016, 8, 14000)
			line("BenchmarkProtect/"+sc+"/auth0", 50000*k, 14000, 190, 14000)
			line("BenchmarkJSONValid/"+sc, 1000*k, 0, 0, 14000)
		}
	}
	return b.String()
}

func TestRenderGivesMediansAndRatios(t *testing.T) {
	res, env := parse(strings.NewReader(sample()))
	if env.cpu != "Test CPU" {
		t.Errorf("cpu %q", env.cpu)
	}
	table, err := render(res, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Medians of 2 runs, linux/amd64, Test CPU, go", "Times are the process's CPU time per operation",
		"| first seen, RS256 | 66.0 µs, 95 allocs | 60.0 µs, 90 allocs | 75.0 µs, 190 allocs | 1.10× | 0.88× |",
		"| search, `patient/` token, guarded (14.0 kB answer) | 300 ns | 3.30 µs, 8 allocs |",
		"| 3.00 µs | 1.50 µs | 2.00× | 0.071× |",
		"with 7 allocations",
		"the whole protection of a `user/` search with a cached token 3.00 µs, 0.050× golang-jwt's `Parse`, with 7 allocations",
		"a guarded `patient/` search of 20 entries 2.00× `json.Valid`, 0.071× the answer in bytes allocated, 7 allocations",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}

func TestRenderRefusesIncompleteOutput(t *testing.T) {
	res, env := parse(strings.NewReader("BenchmarkCached/smartguard-2 10 700 ns/op 0 B/op 0 allocs/op\n"))
	if r := res["BenchmarkCached/smartguard"]; r == nil || len(r.ns) != 1 || r.ns[0] != 700 {
		t.Fatalf("parsed %+v", r)
	}
	if _, err := render(res, env); err == nil {
		t.Error("no error for output without most benchmarks")
	}
}

func TestWriteTableReplacesBetweenMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "performance.md")
	orig := "# x\n\n" + beginMarker + "\nold table\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeTable(path, "new table\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "# x\n\n" + beginMarker + "\nnew table\n" + endMarker + "\n\nafter\n"; string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := writeTable(filepath.Join(t.TempDir(), "none.md"), ""); err == nil {
		t.Error("no error for a missing file")
	}
}
