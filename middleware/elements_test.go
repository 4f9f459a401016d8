package middleware_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/smarttest"
)

// elementsStore holds Observations of Patient/123 (laboratory, and a
// sensitive social-history one) and of Patient/456, and answers reads and
// searches (by subject, no other parameter) with _elements applied as FHIR
// says: the elements listed, and resourceType, id and meta.
type elementsStore struct{ seen []string }

var elementsData = map[string]string{
	"o1": `{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"text":"glucose"},"subject":{"reference":"Patient/123"}}`,
	"o2": `{"resourceType":"Observation","id":"o2","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"social-history"}]}],"code":{"text":"sensitive"},"subject":{"reference":"Patient/123"}}`,
	"o3": `{"resourceType":"Observation","id":"o3","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"text":"glucose"},"subject":{"reference":"Patient/456"}}`,
}

func (s *elementsStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.seen = append(s.seen, r.URL.RequestURI())
	keep := func(res string) string {
		els, ok := r.URL.Query()["_elements"]
		if !ok {
			return res
		}
		var m map[string]json.RawMessage
		json.Unmarshal([]byte(res), &m)
		list := append([]string{"resourceType", "id", "meta"}, strings.Split(strings.Join(els, ","), ",")...)
		for k := range m {
			if !slices.Contains(list, k) {
				delete(m, k)
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	if id, ok := strings.CutPrefix(r.URL.Path, "/r4/Observation/"); ok {
		fmt.Fprint(w, keep(elementsData[id]))
		return
	}
	subject := r.URL.Query().Get("patient")
	var entries []string
	for _, id := range []string{"o1", "o2", "o3"} {
		if subject == "" || strings.Contains(elementsData[id], `"`+subject+`"`) {
			entries = append(entries, `{"fullUrl":"https://fhir.example.org/r4/Observation/`+id+`","resource":`+keep(elementsData[id])+`,"search":{"mode":"match"}}`)
		}
	}
	fmt.Fprintf(w, `{"resourceType":"Bundle","type":"searchset","total":%d,"entry":[%s]}`, len(entries), strings.Join(entries, ","))
}

// TestElementsAndSummaryThroughTheGuard: through the whole Guard, a
// patient app's _elements gets the patient's resources (the guard adds
// the elements it reads), a granular scope that excludes a category is
// not fooled by an _elements that leaves the category out, and a
// _summary=true that would hide the compartment is refused with a 400
// that says why.
func TestElementsAndSummaryThroughTheGuard(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	const notSocial = "patient/Observation.rs?category:not=http://terminology.hl7.org/CodeSystem/observation-category|social-history"
	tests := []struct {
		name, scopes, target string
		status               int
		want                 []string // the ids the client gets
		in                   string   // in the body
		seen                 string   // the request the store saw, when not empty
	}{
		{"a narrowed search with _elements", "patient/Observation.rs", "/r4/Observation?_elements=code", 200, []string{"o1", "o2"}, "",
			"/r4/Observation?patient=Patient%2F123&_elements=code,subject,performer"},
		{"a read with _elements", "patient/Observation.rs", "/r4/Observation/o1?_elements=code", 200, []string{"o1"}, `"glucose"`, ""},
		{"an excluded category, hidden by _elements", notSocial, "/r4/Observation/o2?_elements=code,subject", 403, nil, "", ""},
		{"a search under an excluding scope, with _elements", notSocial, "/r4/Observation?_elements=code,subject", 200, []string{"o1", "withheld"}, "", ""},
		{"_summary=true that would hide the compartment", "patient/Observation.rs", "/r4/Observation?patient=123&_summary=true", 400, nil,
			"_summary=true could leave out subject, performer", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &elementsStore{}
			w := do(t, guard.Handler(store), "GET", tc.target, is.Token(t, smarttest.Patient("123"), smarttest.Scopes("launch/patient "+tc.scopes)), "")
			body := w.Body.String()
			if w.Code != tc.status || !strings.Contains(body, tc.in) || strings.Contains(body, "sensitive") && tc.scopes == notSocial {
				t.Fatalf("%d %s, want %d with %s", w.Code, body, tc.status, tc.in)
			}
			if tc.seen != "" && (len(store.seen) != 1 || store.seen[0] != tc.seen) {
				t.Errorf("the store saw %q, want %q", store.seen, tc.seen)
			}
			if w.Code != 200 {
				return
			}
			var got []string
			if strings.Contains(body, `"Bundle"`) {
				got = entryIDs(t, body)
			} else {
				var r struct{ ID string }
				json.Unmarshal(w.Body.Bytes(), &r)
				got = []string{r.ID}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v: %s", got, tc.want, body)
			}
		})
	}
}
