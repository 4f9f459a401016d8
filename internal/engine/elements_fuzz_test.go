package engine

import (
	"net/url"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/scope"
)

// FuzzResultElements checks resultElements on a patient/ read of an
// Observation under a granular scope, whatever its query and form: it
// refuses the request, or leaves a query and form that a server reads (as
// net/url does, names compared without regard to case) with at most one
// _elements, in the query, naming every element the guard reads, and no
// _summary that hides elements; every other parameter stays as it came.
func FuzzResultElements(f *testing.F) {
	for _, seed := range [][2]string{
		{"_elements=code", ""},
		{"patient=123&_elements=code&_elements=status", ""},
		{"_summary=text", ""},
		{"_summary=true", ""},
		{"_summary=count&_elements=code", ""},
		{"%5Felements=code", "_elements=status"},
		{"_elements:exclude=subject", ""},
		{"_ELEMENTS=code", ""},
		{"code=x", "_summary=text&code=y"},
		{"_elements=", "_elements=,,"},
		{"_summary=data&_elements=subject,performer,category", ""},
		{"_elements=code%2Csubject", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	a := testEngine(f, nil)
	g := testGrant("patient/Observation.rs?category="+labCat, "123", "")
	need := []string{"subject", "performer", "category"}
	f.Fuzz(func(t *testing.T, q, form string) {
		if _, err := url.ParseQuery(q); err != nil {
			return // refused by the classifier before
		}
		if _, err := url.ParseQuery(form); err != nil {
			return
		}
		// The quick looks miss nothing resultElements acts on.
		if rp, err := readResultParams(q, form); err != nil || rp.hasElems || rp.summary != "" {
			named := false
			for p := range fhirrest.Params(q, form) {
				named = named || mayBeResultName(p.Name)
			}
			if !named || !mayHoldResultParams(q) && !mayHoldResultParams(form) {
				t.Fatalf("query %q form %q: read %+v %v, names seen %v", q, form, rp, err, named)
			}
		}
		d := &decision{
			Request: smartctx.Request{Interaction: scope.InteractionSearchType, Type: "Observation", Query: q, Form: form},
			Limits:  smartctx.Limits{Context: scope.Patient, Patient: "123", Constraints: []scope.Constraint{{{Name: "category", Value: labCat}}}},
		}
		if err := a.resultElements(g, d); err != nil {
			return
		}
		qv, _ := url.ParseQuery(d.Query)
		fv, _ := url.ParseQuery(d.Form)
		elems := 0
		for _, vals := range []url.Values{qv, fv} {
			for k, v := range vals {
				lk := strings.ToLower(strings.TrimFunc(k, func(r rune) bool { return r <= ' ' }))
				switch {
				case lk == "_elements":
					elems += len(v)
					if vals == nil || len(v) != 1 {
						break
					}
					for _, n := range need {
						if !strings.Contains(","+v[0]+",", ","+n+",") {
							t.Fatalf("query %q form %q: _elements=%q lacks %s", d.Query, d.Form, v[0], n)
						}
					}
				case lk == "_summary":
					for _, s := range v {
						if s := strings.ToLower(s); s == "true" || s == "text" {
							t.Fatalf("query %q form %q: _summary=%s left", d.Query, d.Form, s)
						}
					}
				case strings.HasPrefix(lk, "_elements") || strings.HasPrefix(lk, "_summary"):
					t.Fatalf("query %q form %q: %q left", d.Query, d.Form, k)
				}
			}
		}
		if elems > 1 || len(fv["_elements"]) > 0 && d.Rewritten {
			t.Fatalf("query %q form %q: %d _elements", d.Query, d.Form, elems)
		}
		// Nothing else changed.
		other := func(raw string) string {
			return dropParams(raw, func(n string) bool { return n == "_elements" || n == "_summary" })
		}
		if other(d.Query) != other(q) || other(d.Form) != other(form) {
			t.Fatalf("query %q form %q became %q %q", q, form, d.Query, d.Form)
		}
	})
}
