package fhirstore

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

// FuzzSearchQuery runs any query string as a search of every level,
// and as the query of a read: the store answers 200 with a searchset (the
// resource, for the read) or an OperationOutcome, and never panics.
func FuzzSearchQuery(f *testing.F) {
	for _, seed := range []string{
		"patient=example&category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
		"_count=2&_offset=1&_sort=-_lastUpdated", "_include=Observation:subject:Patient&_revinclude=Provenance:target",
		"_summary=count", "_type=Goal,Encounter&_id=x", "date=ge2026-10&value-quantity=gt5||mg", "code:not=x&subject:missing=true",
		"_has:Observation:patient:code=1", "%zz=1", "_include=Observation", "name:contains=%C3%A9",
		"_elements=status,Observation.code,value[x]&_summary=text", "_summary=true&_include=Observation:subject", "_elements=Patient.",
	} {
		f.Add(seed)
	}
	s, err := newStore(testBase, Seed(), time.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query string) {
		for _, req := range []smartctx.Request{
			{Interaction: scope.InteractionSearchType, Type: "Observation", Query: query},
			{Interaction: scope.InteractionSearchType, Type: "Condition", CompartmentType: "Patient", CompartmentID: "example", Query: query},
			{Interaction: scope.InteractionSearchSystem, Query: query},
			{Interaction: scope.InteractionHistorySystem, Query: query},
			{Interaction: scope.InteractionRead, Type: "Observation", ID: "example-weight", Query: query},
		} {
			res := s.do(&call{d: smartctx.NewDecision(req, smartctx.Limits{}), req: req})
			var m struct{ ResourceType string }
			if err := json.Unmarshal(res.body, &m); err != nil {
				t.Fatalf("%v %q: not JSON: %v", req.Interaction, query, err)
			}
			answer := "Bundle"
			if req.Interaction == scope.InteractionRead {
				answer = "Observation"
			}
			if want := map[bool]string{true: answer, false: "OperationOutcome"}[res.status == 200]; m.ResourceType != want {
				t.Fatalf("%v %q: %d with a %s", req.Interaction, query, res.status, m.ResourceType)
			}
		}
	})
}

// FuzzJSONPatch applies any patch to any document: a patch either fails
// or gives a document that encodes to valid JSON.
func FuzzJSONPatch(f *testing.F) {
	f.Add(`{"resourceType":"Observation","a":[1,2],"b":{"c":"d"}}`, `[{"op":"add","path":"/a/-","value":3},{"op":"move","from":"/b/c","path":"/a/0"}]`)
	f.Add(`{"a":{"b":[]}}`, `[{"op":"copy","from":"/a","path":"/a/b/0"},{"op":"test","path":"/a/b/0/b","value":[]}]`)
	f.Add(`[1]`, `[{"op":"replace","path":"","value":{"x~y":1}},{"op":"remove","path":"/x~0y"}]`)
	f.Add(`{"a":[1,2,3,4]}`, "["+strings.Repeat(`{"op":"copy","from":"/a","path":"/a/0"},`, 40)+`{"op":"remove","path":"/a"}]`)
	f.Fuzz(func(t *testing.T, doc, patch string) {
		d, err := decodeJSON([]byte(doc))
		if err != nil {
			return
		}
		ops, err := parsePatch([]byte(patch))
		if err != nil {
			return
		}
		out, err := applyPatch(d, ops)
		if err != nil {
			return
		}
		if b := encode(out); !json.Valid(b) {
			t.Fatalf("patched document is not JSON: %s", b)
		}
	})
}
