package engine

import (
	"net/http"
	"testing"
)

// TestConditionalWriteUnderSeveralGranularScopesIsNeverFiltered: the
// search of a conditional delete or update selects what it writes, so the
// response guard cannot filter it afterwards as it filters a search's
// answer. Under two granular scopes that cannot be put into one query
// (category and code), a conditional delete that carries neither is
// refused, not forwarded: forwarded, it would delete the patient's
// Observations of every category.
func TestConditionalWriteUnderSeveralGranularScopesIsNeverFiltered(t *testing.T) {
	a := testEngine(t, nil)
	g := testGrant("patient/Observation.uds?category="+labCat+" patient/Observation.uds?code=http://loinc.org|1-8", "123", "")
	tests := []struct {
		name, method, target, body string
	}{
		{"conditional delete", "DELETE", "Observation?patient=123", ""},
		{"conditional update", "PUT", "Observation?patient=123", `{"resourceType":"Observation","status":"final",` +
			`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],` +
			`"code":{"text":"x"},"subject":{"reference":"Patient/123"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deleted := false
			s := serve(t, a, g, newRequest(tc.method, tc.target, tc.body), func(w http.ResponseWriter, r *http.Request) {
				deleted = true
				w.WriteHeader(http.StatusNoContent)
			})
			if s.code != http.StatusForbidden || deleted {
				t.Errorf("%s: %d, handler ran: %v (%v)", tc.target, s.code, deleted, s.seen)
			}
		})
	}
}
