package fhirrest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

// classifyTests are the cases of TestClassify.
var classifyTests = []struct {
	method, rel, query, ifNoneExist string
	want                            smartctx.Request
	status                          int // expected error status, 0 for none
}{
	{method: "GET", rel: "Patient/123", want: smartctx.Request{Interaction: scope.InteractionRead, Type: "Patient", ID: "123"}},
	{method: "HEAD", rel: "Patient/123", want: smartctx.Request{Interaction: scope.InteractionRead, Type: "Patient", ID: "123"}},
	{method: "GET", rel: "Observation/1/_history/2", want: smartctx.Request{Interaction: scope.InteractionVRead, Type: "Observation", ID: "1", VersionID: "2"}},
	{method: "GET", rel: "Observation/1/_history", want: smartctx.Request{Interaction: scope.InteractionHistoryInstance, Type: "Observation", ID: "1"}},
	{method: "GET", rel: "Observation/_history", want: smartctx.Request{Interaction: scope.InteractionHistoryType, Type: "Observation"}},
	{method: "GET", rel: "_history", want: smartctx.Request{Interaction: scope.InteractionHistorySystem}},
	{method: "PUT", rel: "Observation/1", want: smartctx.Request{Interaction: scope.InteractionUpdate, Type: "Observation", ID: "1"}},
	{method: "PUT", rel: "Observation", query: "identifier=x", want: smartctx.Request{Interaction: scope.InteractionUpdate, Type: "Observation", Conditional: true, Query: "identifier=x"}},
	{method: "PUT", rel: "Observation", status: 400},
	{method: "PATCH", rel: "Observation/1", want: smartctx.Request{Interaction: scope.InteractionPatch, Type: "Observation", ID: "1"}},
	{method: "PATCH", rel: "Observation", query: "_id=1", want: smartctx.Request{Interaction: scope.InteractionPatch, Type: "Observation", Conditional: true, Query: "_id=1"}},
	{method: "DELETE", rel: "Observation/1", want: smartctx.Request{Interaction: scope.InteractionDelete, Type: "Observation", ID: "1"}},
	{method: "DELETE", rel: "Observation", query: "code=x", want: smartctx.Request{Interaction: scope.InteractionDelete, Type: "Observation", Conditional: true, Query: "code=x"}},
	{method: "DELETE", rel: "Observation", status: 400},
	{method: "POST", rel: "Observation", want: smartctx.Request{Interaction: scope.InteractionCreate, Type: "Observation"}},
	{method: "POST", rel: "Observation", ifNoneExist: "identifier=a|b", want: smartctx.Request{Interaction: scope.InteractionCreate, Type: "Observation", Conditional: true, Query: "identifier=a|b"}},
	{method: "GET", rel: "Observation", query: "patient=1", want: smartctx.Request{Interaction: scope.InteractionSearchType, Type: "Observation", Query: "patient=1"}},
	{method: "POST", rel: "Observation/_search", want: smartctx.Request{Interaction: scope.InteractionSearchType, Type: "Observation"}},
	{method: "GET", rel: "Observation/_search", status: 405},
	{method: "GET", rel: "", query: "_type=Observation", want: smartctx.Request{Interaction: scope.InteractionSearchSystem, Query: "_type=Observation"}},
	{method: "POST", rel: "_search", want: smartctx.Request{Interaction: scope.InteractionSearchSystem}},
	{method: "POST", rel: "", want: smartctx.Request{Interaction: scope.InteractionBatch}},
	{method: "DELETE", rel: "", status: 405},
	{method: "GET", rel: "metadata", want: smartctx.Request{Interaction: scope.InteractionCapabilities}},
	{method: "POST", rel: "metadata", status: 405},
	{method: "GET", rel: "Patient/123/Observation", want: smartctx.Request{Interaction: scope.InteractionSearchType, Type: "Observation", CompartmentType: "Patient", CompartmentID: "123"}},
	{method: "GET", rel: "Patient/123/*", want: smartctx.Request{Interaction: scope.InteractionSearchType, Type: "*", CompartmentType: "Patient", CompartmentID: "123"}},
	{method: "POST", rel: "Patient/123/Observation/_search", want: smartctx.Request{Interaction: scope.InteractionSearchType, Type: "Observation", CompartmentType: "Patient", CompartmentID: "123"}},
	{method: "GET", rel: "Encounter/9/Observation", want: smartctx.Request{Interaction: scope.InteractionSearchType, Type: "Observation", CompartmentType: "Encounter", CompartmentID: "9"}},
	{method: "GET", rel: "Observation/9/Patient", status: 404},
	{method: "GET", rel: "$meta", want: smartctx.Request{Interaction: scope.InteractionOperation, Operation: "$meta"}},
	{method: "POST", rel: "Patient/$match", want: smartctx.Request{Interaction: scope.InteractionOperation, Type: "Patient", Operation: "$match"}},
	{method: "GET", rel: "Patient/1/$everything", want: smartctx.Request{Interaction: scope.InteractionOperation, Type: "Patient", ID: "1", Operation: "$everything"}},
	{method: "DELETE", rel: "Patient/1/$everything", status: 405},
	{method: "GET", rel: "Patient/1/$", status: 404},
	{method: "GET", rel: "Patient/1/$a/b", status: 404},
	{method: "GET", rel: "patient/1", status: 404},
	{method: "GET", rel: "Foo/1", status: 404},
	{method: "GET", rel: "Patient/1/Foo", status: 404},
	{method: "GET", rel: "Patient/a_b", status: 400},
	{method: "GET", rel: "Patient/" + strings.Repeat("a", 65), status: 400},
	{method: "GET", rel: "Patient/..", status: 400},
	{method: "GET", rel: "Patient/.", status: 400},
	{method: "GET", rel: "Patient/../Observation", status: 400},
	{method: "GET", rel: "Patient//1", status: 400},
	{method: "GET", rel: "Patient/1/", status: 400},
	{method: "GET", rel: "Patient%2F1", status: 400},
	{method: "GET", rel: "Patient/1%2F..%2FObservation", status: 400},
	{method: "GET", rel: "Patient/1/_history/2/3", status: 404},
	{method: "GET", rel: "Patient/1/_history/2/3/4/5", status: 404},
	{method: "GET", rel: "Patient/1/_history/a_b", status: 400},
	{method: "GET", rel: "Observation", query: "code=%zz", status: 400},
	{method: "GET", rel: "Observation", query: "code=a b", status: 400},
	{method: "OPTIONS", rel: "Observation", status: 405},
	{method: "TRACE", rel: "Observation/1", status: 405},
}

func TestClassify(t *testing.T) {
	for _, tc := range classifyTests {
		t.Run(tc.method+" "+tc.rel+"?"+tc.query, func(t *testing.T) {
			got, err := Classify(tc.method, tc.rel, tc.query, tc.ifNoneExist)
			if tc.status != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Method = tc.method
			if tc.want.Query == "" {
				tc.want.Query = tc.query
			}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRel(t *testing.T) {
	tests := []struct {
		base, path, rel string
		ok              bool
	}{
		{"/fhir", "/fhir", "", true},
		{"/fhir", "/fhir/", "", true},
		{"/fhir", "/fhir/Patient/1", "Patient/1", true},
		{"/fhir", "/fhirx/Patient/1", "", false},
		{"/fhir", "/other/Patient/1", "", false},
		{"", "/Patient/1", "Patient/1", true},
	}
	for _, tc := range tests {
		rel, ok := Rel(tc.base, tc.path)
		if rel != tc.rel || ok != tc.ok {
			t.Errorf("Rel(%q, %q) = %q, %v", tc.base, tc.path, rel, ok)
		}
	}
}

func TestParams(t *testing.T) {
	var got []Param
	for p := range Params("a=1&&b=x%7Cy&c", "d=e+f") {
		got = append(got, p)
	}
	want := []Param{{"a", "1"}, {"b", "x|y"}, {"c", ""}, {"d", "e f"}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}

// FuzzClassify: no panic, and nothing malformed is ever classified as a
// FHIR interaction.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"Patient/1", "Observation", "Patient/1/Observation", "Patient/1/_history/2",
		"Patient/1/$everything", "", "metadata", "_history", "Patient/..", "Patient%2f1", "a/b/c/d/e/f"} {
		f.Add("GET", s, "patient=1")
	}
	f.Fuzz(func(t *testing.T, method, rel, query string) {
		r, err := Classify(method, rel, query, "")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 {
				t.Fatalf("error %v is not a refusal", err)
			}
			return
		}
		if r.Interaction == "" {
			t.Fatal("classified without an interaction")
		}
		if strings.Contains(rel, "..") && r.ID != "" && strings.Contains(r.ID, "..") {
			// ".." inside an id such as "a..b" is a valid id; a segment
			// ".." is not.
			if r.ID == ".." || r.VersionID == ".." {
				t.Fatal("dot-dot segment classified")
			}
		}
		if strings.ContainsAny(rel, "%\\") || strings.Contains(rel, "//") {
			t.Fatalf("escaped or empty segment classified: %q", rel)
		}
		if r.Type != "" && r.Type != "*" && !scope.IsR4Type(r.Type) {
			t.Fatalf("unknown type %q classified", r.Type)
		}
		for _, id := range []string{r.ID, r.VersionID, r.CompartmentID} {
			if id != "" && !smartctx.ValidID(id) {
				t.Fatalf("bad id %q classified", id)
			}
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Classify("GET", "Observation", "patient=123&category=laboratory", ""); err != nil {
			b.Fatal(err)
		}
	}
}
