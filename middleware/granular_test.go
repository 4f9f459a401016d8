package middleware_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// TestSeveralGranularScopesAnswerTheSearch: an ONC (g)(10) client holding
// two granular Condition scopes searches Condition?patient=X and gets 200
// with only the Conditions of those categories. The handler receives the
// search narrowed to both categories (one comma list); this one ignores
// it, so the guard withholds the rest, removes "total" and adds an outcome
// entry saying that results were withheld. Without the guard the narrowed
// search alone answers.
func TestSeveralGranularScopesAnswerTheSearch(t *testing.T) {
	const cat = "http://terminology.hl7.org/CodeSystem/condition-category"
	cond := func(id, patient, category string) string {
		return fmt.Sprintf(`{"fullUrl":"https://fhir.example.org/r4/Condition/%s","resource":{"resourceType":"Condition","id":%q,`+
			`"category":[{"coding":[{"system":%q,"code":%q}]}],"subject":{"reference":"Patient/%s"}},"search":{"mode":"match"}}`,
			id, id, cat, category, patient)
	}
	var seen string
	store := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.URL.Query().Get("category")
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset","total":4,"entry":[`+
			cond("c1", "123", "encounter-diagnosis")+","+cond("c2", "123", "health-concern")+","+
			cond("c3", "123", "problem-list-item")+","+cond("c4", "456", "health-concern")+`]}`)
	})
	is := smarttest.NewIssuer(t)
	tok := is.Token(t, smarttest.Patient("123"), smarttest.Scopes("launch/patient "+
		"patient/Condition.rs?category="+cat+"|encounter-diagnosis patient/Condition.rs?category="+cat+"|health-concern"))
	for _, skip := range []bool{false, true} {
		guard := newGuard(t, is, func(cfg *smartmw.Config) {
			cfg.FHIR.SkipResponseGuard = skip
		})
		seen = ""
		w := do(t, guard.Handler(store), "GET", "/r4/Condition?patient=123", tok, "")
		if want := cat + "|encounter-diagnosis," + cat + "|health-concern"; seen != want {
			t.Errorf("the handler saw category=%q, want %q", seen, want)
		}
		if skip {
			if w.Code != 200 {
				t.Errorf("without the guard: %d, want 200 (the search narrowed)", w.Code)
			}
			continue
		}
		if w.Code != 200 {
			t.Fatalf("%d: %s", w.Code, w.Body)
		}
		got := strings.Join(entryIDs(t, w.Body.String()), ",")
		if got != "c1,c2,withheld" || strings.Contains(w.Body.String(), `"total"`) {
			t.Errorf("entries %s, body %s", got, w.Body)
		}
	}
}

// TestGranularScopesOnEveryParameterType: the clients' scopes name
// string, date, boolean and identifier parameters; a Patient that matches
// is read (200) and one that does not is refused, through the guard.
func TestGranularScopesOnEveryParameterType(t *testing.T) {
	patient := func(id, given, family, gender, birth string, active bool, ident string) string {
		return fmt.Sprintf(`{"resourceType":"Patient","id":%q,"active":%v,"gender":%q,"birthDate":%q,`+
			`"name":[{"family":%q,"given":[%q]}],"identifier":[{"system":"http://example.com","value":%q}]}`,
			id, active, gender, birth, family, given, ident)
	}
	stored := map[string]string{
		"123": patient("123", "John", "Smith", "male", "2001-04-02", true, "123"),
		"124": patient("124", "Jane", "Doe", "female", "1990-01-01", false, "999"),
	}
	store := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, stored[r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]])
	})
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	h := guard.Handler(store)
	tests := []struct {
		scopes, patient string
		fhirUser        string
		target          string
		want            int
	}{
		{"patient/Patient.rs?name=john", "123", "", "/r4/Patient/123", 200},
		{"patient/Patient.rs?name=jane", "123", "", "/r4/Patient/123", 403},
		{"patient/Patient.rs?name=john&gender=male", "123", "", "/r4/Patient/123", 200},
		{"patient/Patient.rs?name=john&gender=female", "123", "", "/r4/Patient/123", 403},
		{"user/Patient.cruds?name=Smith&birthdate=ge2000", "", "Practitioner/1", "/r4/Patient/123", 200},
		{"user/Patient.cruds?name=Smith&birthdate=ge2000", "", "Practitioner/1", "/r4/Patient/124", 403},
		{"system/Patient.rs?active=true", "", "", "/r4/Patient/123", 200},
		{"system/Patient.rs?active=true", "", "", "/r4/Patient/124", 403},
		{"patient/Patient.rs?identifier=http://example.com|123", "123", "", "/r4/Patient/123", 200},
		{"patient/Patient.rs?identifier=http://example.com|999", "123", "", "/r4/Patient/123", 403},
		{"system/Patient.rs?name:missing=false", "", "", "/r4/Patient/123", 200},
		{"system/Patient.rs?general-practitioner.name=x", "", "", "/r4/Patient/123", 403}, // chained: not evaluated, grants nothing
	}
	for _, tc := range tests {
		opts := []smarttest.TokenOption{smarttest.Scopes(tc.scopes)}
		if tc.patient != "" {
			opts = append(opts, smarttest.Patient(tc.patient))
		}
		if tc.fhirUser != "" {
			opts = append(opts, smarttest.FHIRUser(tc.fhirUser))
		}
		w := do(t, h, "GET", tc.target, is.Token(t, opts...), "")
		if w.Code != tc.want {
			t.Errorf("%s: GET %s: %d, want %d: %s", tc.scopes, tc.target, w.Code, tc.want, w.Body)
		}
	}
}
