package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/search"
)

// A FHIR server in memory for the engine's tests: searches evaluated with
// internal/search (an honest server, applying every parameter the
// decision adds), or ignored (a server that answers everything, which
// only the guard then stands between).

// obsJSON is an Observation of patient with a category and a LOINC code.
func obsJSON(id, patient, category, code string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","category":[{"coding":[{"system":`+
		`"http://terminology.hl7.org/CodeSystem/observation-category","code":%q}]}],"code":{"coding":[{"system":`+
		`"http://loinc.org","code":%q}],"text":"t"},"subject":{"reference":"Patient/%s"},"performer":[{"reference":"Practitioner/p1"}],`+
		`"effectiveDateTime":"2024-01-0%dT00:00:00Z","valueString":"v-%s"}`, id, category, code, patient, len(id)%9+1, id)
}

// storeData is every resource of the store, by type.
var storeData = map[string][]string{
	"Observation": {
		obsJSON("o1", "123", "laboratory", "2339-0"),
		obsJSON("o2", "123", "vital-signs", "8480-6"),
		obsJSON("o3", "123", "social-history", "72166-2"),
		obsJSON("o4", "123", "laboratory", "1-8"),
		obsJSON("o5", "456", "laboratory", "2339-0"),
		obsJSON("o6", "456", "vital-signs", "8480-6"),
		obsJSON("o7", "123", "survey", "2339-0"),
	},
	"Patient": {
		`{"resourceType":"Patient","id":"123","name":[{"family":"Smith"}],"identifier":[{"system":"urn:x","value":"a"}]}`,
		`{"resourceType":"Patient","id":"456","name":[{"family":"Smith"}],"identifier":[{"system":"urn:x","value":"a"}]}`,
	},
	"Condition": {
		`{"resourceType":"Condition","id":"c1","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"problem-list-item"}]}],"subject":{"reference":"Patient/123"}}`,
		`{"resourceType":"Condition","id":"c2","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"encounter-diagnosis"}]}],"subject":{"reference":"Patient/123"}}`,
		`{"resourceType":"Condition","id":"c3","category":[{"coding":[{"system":"http://hl7.org/fhir/us/core/CodeSystem/condition-category","code":"health-concern"}]}],"subject":{"reference":"Patient/123"}}`,
		`{"resourceType":"Condition","id":"c4","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"problem-list-item"}]}],"subject":{"reference":"Patient/456"}}`,
	},
}

// resultParam reports whether name is a search result parameter, which
// selects nothing.
func resultParam(name string) bool {
	switch name {
	case "_count", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude", "_format", "_pretty":
		return true
	}
	return strings.HasPrefix(name, "_include:") || strings.HasPrefix(name, "_revinclude:")
}

// selecting returns the parameters of raw queries that select resources,
// in FHIR's own encoding ("a=1&b=2").
func selecting(raws ...string) string {
	var parts []string
	for _, raw := range raws {
		for kv := range strings.SplitSeq(raw, "&") {
			if kv == "" {
				continue
			}
			k, _, _ := strings.Cut(kv, "=")
			name, _ := url.QueryUnescape(k)
			if !resultParam(name) {
				parts = append(parts, kv)
			}
		}
	}
	return strings.Join(parts, "&")
}

// matching returns the resources of typ that the raw query q selects, as
// a FHIR server evaluates it; ok is false when internal/search does not
// evaluate it.
func matching(t testing.TB, typ, q string) (ids []string, res []string, ok bool) {
	t.Helper()
	var query *search.Query
	if q != "" {
		var err error
		if query, err = search.Parse(typ, q, search.Options{Base: testBase}); err != nil {
			return nil, nil, false
		}
	}
	for _, r := range storeData[typ] {
		if query != nil {
			if m, err := query.Match([]byte(r)); err != nil || !m {
				continue
			}
		}
		_, id, _ := compartment.TypeAndID([]byte(r))
		ids = append(ids, id)
		res = append(res, r)
	}
	return ids, res, true
}

// searchset renders resources as a searchset with total, and the
// _summary=count form (total only) when count.
func searchset(res []string, count bool) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"resourceType":"Bundle","type":"searchset","total":%d`, len(res))
	if !count && len(res) > 0 {
		b.WriteString(`,"entry":[`)
		for i, r := range res {
			if i > 0 {
				b.WriteByte(',')
			}
			_, id, _ := compartment.TypeAndID([]byte(r))
			typ, _ := search.ResourceType([]byte(r))
			fmt.Fprintf(&b, `{"fullUrl":"%s/%s/%s","resource":%s,"search":{"mode":"match"}}`, testBase, typ, id, r)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.String()
}

// honestStore answers a type search with what its query (URL and form)
// selects, a read by id with the resource, and _summary=count with the
// total alone. It fails the test for a search it cannot evaluate.
func honestStore(t testing.TB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/fhir/"), "/")
		typ := segs[0]
		if len(segs) == 2 && segs[1] != "_search" {
			for _, res := range storeData[typ] {
				if _, id, _ := compartment.TypeAndID([]byte(res)); id == segs[1] {
					fmt.Fprint(w, subset(t, res, r.URL.Query()))
					return
				}
			}
			http.NotFound(w, r)
			return
		}
		form := ""
		if r.Method == http.MethodPost {
			r.ParseForm()
			form = r.PostForm.Encode()
		}
		_, res, ok := matching(t, typ, selecting(r.URL.RawQuery, form))
		if !ok {
			t.Errorf("the store cannot evaluate %s?%s", typ, r.URL.RawQuery)
			http.Error(w, "unsupported", http.StatusBadRequest)
			return
		}
		params := r.URL.Query()
		for k, v := range r.PostForm {
			params[k] = append(params[k], v...)
		}
		for i := range res {
			res[i] = subset(t, res[i], params)
		}
		fmt.Fprint(w, searchset(res, params.Get("_summary") == "count"))
	}
}

// summaryElements are the elements of each type marked summary in R4
// (those of the store's resources), and mandatory ones.
var (
	summaryElements = map[string][]string{
		"Observation": {"id", "meta", "identifier", "basedOn", "partOf", "status", "code", "subject", "focus", "encounter",
			"effectiveDateTime", "issued", "performer", "valueString", "hasMember", "derivedFrom"},
		"Patient":   {"id", "meta", "identifier", "active", "name", "telecom", "gender", "birthDate", "address", "link"},
		"Condition": {"id", "meta", "identifier", "clinicalStatus", "verificationStatus", "code", "subject", "encounter"},
	}
	mandatoryElements = map[string][]string{"Observation": {"status", "code"}, "Condition": {"subject"}}
)

// subset applies _elements and _summary (FHIR R4 search §3.1.1.5.8-9) to
// resource, as a server does: it keeps resourceType, id, meta and the
// mandatory elements beside those asked for.
func subset(t testing.TB, resource string, params url.Values) string {
	keep := func(string) bool { return true }
	typ, _ := search.ResourceType([]byte(resource))
	base := []string{"resourceType", "id", "meta"}
	base = append(base, mandatoryElements[typ]...)
	switch params.Get("_summary") {
	case "true":
		list := append(base, summaryElements[typ]...)
		keep = func(k string) bool { return slices.Contains(list, k) }
	case "text":
		list := append(base, "text")
		keep = func(k string) bool { return slices.Contains(list, k) }
	case "data":
		keep = func(k string) bool { return k != "text" }
	}
	if els, ok := params["_elements"]; ok {
		list := base
		for _, e := range els {
			for n := range strings.SplitSeq(e, ",") {
				list = append(list, n)
				if strings.HasSuffix(n, "[x]") || n == "effective" || n == "value" {
					// a choice element's base name: every JSON name
					stem := strings.TrimSuffix(n, "[x]")
					for _, s := range []string{"DateTime", "String", "Quantity", "Period"} {
						list = append(list, stem+s)
					}
				}
			}
		}
		keep = func(k string) bool { return slices.Contains(list, k) }
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resource), &m); err != nil {
		t.Fatalf("store resource: %v", err)
	}
	for k := range m {
		if !keep(k) {
			delete(m, k)
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// carelessStore answers every search with every resource of the type,
// whatever the query says.
func carelessStore(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	typ, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/fhir/"), "/")
	fmt.Fprint(w, searchset(storeData[typ], r.URL.Query().Get("_summary") == "count"))
}

// clientView is what a client reads of a searchset.
type clientView struct {
	ids      []string // the matches, sorted
	total    int      // -1 when absent
	withheld bool     // the guard's outcome entry is there
}

func readAnswer(t testing.TB, body string) clientView {
	t.Helper()
	an := clientView{total: -1}
	if i := strings.Index(body, `"total":`); i >= 0 {
		j := i + len(`"total":`)
		k := j
		for k < len(body) && body[k] >= '0' && body[k] <= '9' {
			k++
		}
		an.total, _ = strconv.Atoi(body[j:k])
	}
	an.withheld = strings.Contains(body, `"suppressed"`)
	for _, typ := range []string{"Observation", "Condition", "Patient"} {
		for rest := body; ; {
			i := strings.Index(rest, `"fullUrl":"`+testBase+"/"+typ+"/")
			if i < 0 {
				break
			}
			rest = rest[i+len(`"fullUrl":"`+testBase+"/"+typ+"/"):]
			end := strings.IndexByte(rest, '"')
			an.ids = append(an.ids, rest[:end])
		}
	}
	sort.Strings(an.ids)
	return an
}
