// Command r4gen writes the FHIR R4 tables of packages compartment and
// search (their tables.go) from the data in their data/ directories, and
// derives that data from the R4 definitions (see compartment/data/README.md
// and search/data/README.md).
//
// Both packages read the same source, the R4 SearchParameter Bundle, each
// reduced to what it needs: search-params.json keeps every parameter's
// type and JSON paths with the FHIR type each reaches (from the
// StructureDefinitions), search-paths.json the reference parameters that
// can name a Patient and the token parameters, with their target types.
// The second reduction reads the first (the element types tell a
// Reference from a canonical), so one run derives both, in that order,
// and one run writes both tables.
//
//	go run ./internal/r4gen -dir internal     # data → tables.go of both packages (go generate)
//	go run ./internal/r4gen -dir internal -derive search-parameters.json \
//	    -types profiles-types.json -resources profiles-resources.json
//	                                          # → search/data/search-params.json, compartment/data/search-paths.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	log.SetFlags(0)
	derive := flag.String("derive", "", "derive both packages' data from this R4 SearchParameter Bundle")
	types := flag.String("types", "", "with -derive: the R4 profiles-types.json Bundle")
	resources := flag.String("resources", "", "with -derive: the R4 profiles-resources.json Bundle")
	dir := flag.String("dir", ".", "the directory holding packages compartment and search")
	flag.Parse()
	if *derive != "" {
		if *types == "" || *resources == "" {
			log.Fatal("r4gen: -derive needs -types and -resources")
		}
		if err := deriveAll(*dir, *derive, *types, *resources); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := generate(*dir); err != nil {
		log.Fatal(err)
	}
}

// generate writes the tables.go of both packages from their data.
func generate(dir string) error {
	return errors.Join(
		generateCompartment(filepath.Join(dir, "compartment")),
		generateSearch(filepath.Join(dir, "search")),
	)
}

// deriveAll derives search's data from the SearchParameter Bundle in and
// the StructureDefinitions, then compartment's from the same Bundle, its
// patient compartment and search's data.
func deriveAll(dir, in, typesFile, resourcesFile string) error {
	bundle, err := readSearchParameters(in)
	if err != nil {
		return err
	}
	sp, err := deriveParams(bundle, typesFile, resourcesFile)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "search", "data", "search-params.json"), compact(sp), 0o644); err != nil {
		return err
	}
	comp := filepath.Join(dir, "compartment", "data")
	return deriveSearchPaths(bundle, filepath.Join(comp, "patient-compartment.json"), sp, filepath.Join(comp, "search-paths.json"))
}

// searchParameter is what both reductions read of an R4 SearchParameter.
type searchParameter struct {
	Code       string   `json:"code"`
	Base       []string `json:"base"`
	Type       string   `json:"type"`
	Expression string   `json:"expression"`
	Target     []string `json:"target"`
}

// readSearchParameters reads the SearchParameters of a Bundle, in order.
func readSearchParameters(path string) ([]searchParameter, error) {
	var bundle struct {
		Entry []struct {
			Resource searchParameter `json:"resource"`
		} `json:"entry"`
	}
	if err := readJSON(path, &bundle); err != nil {
		return nil, err
	}
	out := make([]searchParameter, len(bundle.Entry))
	for i, e := range bundle.Entry {
		out[i] = e.Resource
	}
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// list renders a string slice literal without its type, as gofmt -s does.
func list(ss []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", s)
	}
	b.WriteByte('}')
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
