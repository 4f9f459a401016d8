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
// with only the Conditions of those categories, no "total", and an
// outcome entry saying that results were withheld.
func TestSeveralGranularScopesAnswerTheSearch(t *testing.T) {
	const cat = "http://terminology.hl7.org/CodeSystem/condition-category"
	cond := func(id, patient, category string) string {
		return fmt.Sprintf(`{"fullUrl":"https://fhir.example.org/r4/Condition/%s","resource":{"resourceType":"Condition","id":%q,`+
			`"category":[{"coding":[{"system":%q,"code":%q}]}],"subject":{"reference":"Patient/%s"}},"search":{"mode":"match"}}`,
			id, id, cat, category, patient)
	}
	store := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset","total":4,"entry":[`+
			cond("c1", "123", "encounter-diagnosis")+","+cond("c2", "123", "health-concern")+","+
			cond("c3", "123", "problem-list-item")+","+cond("c4", "456", "health-concern")+`]}`)
	})
	is := smarttest.NewIssuer(t)
	tok := is.Token(t, smarttest.Patient("123"), smarttest.Scopes("launch/patient "+
		"patient/Condition.rs?category="+cat+"|encounter-diagnosis patient/Condition.rs?category="+cat+"|health-concern"))
	for _, skip := range []bool{false, true} {
		cfg := is.Config()
		cfg.SkipResponseGuard = skip
		guard, err := smartmw.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		w := do(t, guard.Handler(store), "GET", "/r4/Condition?patient=123", tok, "")
		if skip {
			if w.Code != 403 {
				t.Errorf("without the guard: %d, want 403 (nothing would filter)", w.Code)
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
