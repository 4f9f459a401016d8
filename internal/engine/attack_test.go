package engine

import (
	"net/http"
	"testing"
)

// TestNarrowingNeverReachesAnotherPatient: narrowing adds the patient to a
// search that names no one; a search (or bundle entry, or form body) that
// names anyone else, in any spelling a server could read as the patient
// parameter, or that selects through other resources (_has), is refused
// before the handler, with or without the patient's own parameter beside
// it.
func TestNarrowingNeverReachesAnotherPatient(t *testing.T) {
	tests := []struct {
		name, method, target, form string
		status                     int
	}{
		{"another patient", "GET", "Observation?patient=456", "", 403},
		{"another patient beside the own", "GET", "Observation?patient=123&patient=456", "", 403},
		{"another patient first", "GET", "Observation?patient=456&patient=123", "", 403},
		{"a list with another patient", "GET", "Observation?patient=123,456", "", 403},
		{"an escaped list", "GET", "Observation?patient=123%2C456", "", 403},
		{"another patient by subject", "GET", "Observation?subject=Patient/456", "", 403},
		{"another patient by subject:Patient", "GET", "Observation?subject:Patient=456", "", 403},
		{"another patient by a compartment reference", "GET", "Observation?performer=Patient/456", "", 403},
		{"another patient in another case", "GET", "Observation?Patient=456", "", 403},
		{"another patient, upper-case modifier", "GET", "Observation?subject:PATIENT=456", "", 403},
		{"another patient's id", "GET", "Patient?_id=456", "", 403},
		{"another patient's id in another case", "GET", "Patient?_ID=456", "", 403},
		{"a name cut at a NUL", "GET", "Observation?patient%00=456", "", 400},
		{"a name with a space", "GET", "Observation?patient%20=456", "", 400},
		{"a name holding a query", "GET", "Observation?code=x&patient%3D456", "", 400},
		{"reverse chaining", "GET", "Observation?_has:Observation:patient:code=x", "", 403},
		{"reverse chaining on a type about no patient", "GET", "Medication?_has:MedicationRequest:medication:subject=Patient/456", "", 403},
		{"_contained", "GET", "Observation?_contained=true", "", 403},
		{"a compartment search of another patient", "GET", "Patient/456/Observation", "", 403},
		{"a form naming another patient", "POST", "Observation/_search", "patient=456", 403},
		{"a form naming another patient, the URL the own", "POST", "Observation/_search?patient=123", "patient=456", 403},
		{"a form with a name in another case", "POST", "Observation/_search", "Subject=Patient/456", 403},
		{"a HEAD naming another patient", "HEAD", "Observation?patient=456", "", 403},
		{"a batch entry naming another patient", "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"Observation?Patient=456"}}]}`, 403},
		{"a conditional delete naming another patient", "DELETE", "Observation?code=x&patient=456", "", 403},
		{"every type", "GET", "?_type=Observation", "", 403},
	}
	for _, refuse := range []bool{false, true} {
		a := testEngine(t, func(o *Options) { o.RefuseBroadSearches = refuse })
		g := testGrant("patient/*.cruds", "123", "")
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := serve(t, a, g, newRequest(tc.method, tc.target, tc.form), func(w http.ResponseWriter, r *http.Request) {
					carelessStore(w, r)
				})
				if s.code != tc.status || s.seen != nil {
					t.Errorf("RefuseBroadSearches %v: %d (the handler saw %q), want %d: %s", refuse, s.code, s.seen, tc.status, s.body)
				}
			})
		}
	}
}
