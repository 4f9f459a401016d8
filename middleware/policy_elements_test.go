package middleware_test

import (
	"strings"
	"testing"
)

// TestPolicySearchKeepsTheElementsThePolicyReads: under the access policy
// a practitioner's search with _elements reaches the store with the
// compartment references added, which the guard reads to tell the
// panel's patients from the others. (This store refuses _elements, which
// it does not implement: only what it was asked is checked.)
func TestPolicySearchKeepsTheElementsThePolicyReads(t *testing.T) {
	is := newIssuer(t)
	f := newPolicyFixture(t, is, nil)
	jones := policyClaims(is, "Practitioner/dr-jones", "user/*.cruds", "app-1")
	f.do(t, jones, "GET", "/Observation?category=laboratory&_elements=code", "")
	if len(f.store.queries) == 0 {
		t.Fatal("the store was not asked")
	}
	q := f.store.queries[len(f.store.queries)-1]
	if !strings.Contains(q, "_elements=code,subject,performer") {
		t.Errorf("the store saw %s", q)
	}
}
