package engine

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

const (
	problemList   = "http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item"
	healthConcern = "http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern"
)

// narrowCase is a search under a grant, and the matches a client must get:
// those of the search, among what the grant allows.
type narrowCase struct {
	name            string
	scopes, patient string
	fhirUser        string
	method, target  string
	form            string
	want            []string
	allowed         []string // all the grant allows of the type: what a careless handler's answer keeps
	filtered        bool     // granular alternatives no query holds: the guard filters, no total
	carried         bool     // the search carries its restrictions: RefuseBroadSearches answers it too
	adjust          func(*Options)
}

var (
	all123 = []string{"o1", "o2", "o3", "o4", "o7"}
	lab123 = []string{"o1", "o4"}
	lv123  = []string{"o1", "o2", "o4"}
)

var narrowCases = []narrowCase{
	{name: "patient scopes, a code search", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?code=http://loinc.org|2339-0", want: []string{"o1", "o7"}, allowed: all123},
	{name: "patient scopes, every Observation", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation", want: []string{"o1", "o2", "o3", "o4", "o7"}, allowed: all123},
	{name: "patient scopes, Patient by name", scopes: "patient/Patient.rs", patient: "123",
		target: "Patient?family=Smith", want: []string{"123"}, allowed: []string{"123"}},
	{name: "patient scopes, Patient by identifier", scopes: "patient/Patient.rs", patient: "123",
		target: "Patient?identifier=urn:x|a", want: []string{"123"}, allowed: []string{"123"}},
	{name: "patient user (Patient fhirUser)", scopes: "user/Observation.rs", fhirUser: "Patient/123",
		target: "Observation?code=http://loinc.org|8480-6", want: []string{"o2"}, allowed: all123},
	{name: "POST _search with a form body", scopes: "patient/Observation.rs", patient: "123", method: "POST",
		target: "Observation/_search", form: "code=http%3A%2F%2Floinc.org%7C2339-0", want: []string{"o1", "o7"}, allowed: all123},
	{name: "one granular scope", scopes: "patient/Observation.rs?category=" + labCat, patient: "123",
		target: "Observation", want: []string{"o1", "o4"}, allowed: lab123},
	{name: "one granular scope, another category asked for", scopes: "patient/Observation.rs?category=" + labCat, patient: "123",
		target: "Observation?category=" + vitCat, want: nil, allowed: lab123},
	{name: "two categories, one list", scopes: "patient/Observation.rs?category=" + labCat + " patient/Observation.rs?category=" + vitCat, patient: "123",
		target: "Observation?patient=123", want: []string{"o1", "o2", "o4"}, allowed: lv123},
	{name: "two categories and a code", scopes: "patient/Observation.rs?category=" + labCat + " patient/Observation.rs?category=" + vitCat, patient: "123",
		target: "Observation?code=http://loinc.org|2339-0", want: []string{"o1"}, allowed: lv123},
	{name: "two categories, a list of the client within them", scopes: "patient/Observation.rs?category=" + labCat + " patient/Observation.rs?category=" + vitCat, patient: "123",
		target: "Observation?patient=123&category=" + vitCat + "," + labCat, want: []string{"o1", "o2", "o4"}, allowed: lv123, carried: true},
	{name: "two categories, a list of the client beyond them", scopes: "patient/Observation.rs?category=" + labCat + " patient/Observation.rs?category=" + vitCat, patient: "123",
		target: "Observation?patient=123&category=" + socCat + "," + labCat, want: []string{"o1", "o4"}, allowed: lv123},
	{name: "(g)(10) Condition categories of two systems", scopes: "patient/Condition.rs?category=" + problemList + " patient/Condition.rs?category=" + healthConcern, patient: "123",
		target: "Condition?patient=123", want: []string{"c1", "c3"}, allowed: []string{"c1", "c3"}},
	{name: "system granular scope, no patient", scopes: "system/Observation.rs?category=" + labCat,
		target: "Observation", want: []string{"o1", "o4", "o5"}, allowed: []string{"o1", "o4", "o5"}},
	{name: "a category and a code: filtered", scopes: "patient/Observation.rs?category=" + labCat + " patient/Observation.rs?code=http://loinc.org|8480-6", patient: "123",
		target: "Observation", want: []string{"o1", "o2", "o4"}, filtered: true, allowed: lv123},
}

// TestNarrowedSearchIsExact: a search that lacks the restriction of its
// grant reaches the handler narrowed. A handler applying the query as FHIR
// says answers exactly the matches the grant allows, with their total and
// no withheld notice; a handler that ignores the added parameters answers
// everything, and the guard withholds what the grant does not allow (no
// total, the notice): never another patient's data, nor another category,
// though the client's own parameters are then not applied.
func TestNarrowedSearchIsExact(t *testing.T) {
	for _, tc := range narrowCases {
		t.Run(tc.name, func(t *testing.T) {
			a := testEngine(t, tc.adjust)
			g := testGrant(tc.scopes, tc.patient, tc.fhirUser)
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			s := serve(t, a, g, newRequest(method, tc.target, tc.form), honestStore(t))
			an := readAnswer(t, s.body)
			if s.code != 200 || !slices.Equal(an.ids, tc.want) {
				t.Fatalf("honest handler: %d %v, want %v (it saw %q): %s", s.code, an.ids, tc.want, s.seen, s.body)
			}
			switch {
			case tc.filtered && (an.total != -1 || an.withheld != (len(tc.want) < 5)):
				t.Errorf("filtered: total %d, withheld %v: %s", an.total, an.withheld, s.body)
			case !tc.filtered && (an.total != len(tc.want) || an.withheld):
				t.Errorf("narrowed: total %d, withheld %v, want total %d and nothing withheld (it saw %q)", an.total, an.withheld, len(tc.want), s.seen)
			}
			s = serve(t, a, g, newRequest(method, tc.target, tc.form), carelessStore)
			an = readAnswer(t, s.body)
			if s.code != 200 || !slices.Equal(an.ids, tc.allowed) || an.total != -1 && an.total != len(tc.allowed) {
				t.Fatalf("careless handler: %d %v total %d, want %v: %s", s.code, an.ids, an.total, tc.allowed, s.body)
			}
			if tc.patient+tc.fhirUser != "" && strings.Contains(s.body, "Patient/456") {
				t.Errorf("another patient's data left: %s", s.body)
			}
			// Refused, not narrowed, on request.
			refuse := testEngine(t, func(o *Options) {
				if tc.adjust != nil {
					tc.adjust(o)
				}
				o.RefuseBroadSearches = true
			})
			want := http.StatusForbidden
			if tc.carried {
				want = http.StatusOK
			}
			if _, status, _ := decideStatus(t, refuse, g, newRequest(method, tc.target, tc.form)); status != want {
				t.Errorf("RefuseBroadSearches: %d, want %d", status, want)
			}
		})
	}
}
