package fhirstore

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
)

const weight = `{"resourceType":"Observation","id":"example-weight","status":"final",` +
	`"code":{"text":"Body weight"},"subject":{"reference":"Patient/example"},"valueQuantity":{"value":%s,"unit":"kg"}}`

func TestUpdateKeepsEveryVersion(t *testing.T) {
	s := newServer(t)
	res := s.must(200, "PUT", "/fhir/Observation/example-weight", fmt.Sprintf(weight, "67.0"))
	if got := res.header.Get("ETag"); got != `W/"2"` {
		t.Errorf("ETag after an update %q, want W/\"2\"", got)
	}
	if got := res.header.Get("Location"); got != testBase+"/Observation/example-weight/_history/2" {
		t.Errorf("Location %q", got)
	}
	if meta := res.json(t)["meta"].(map[string]any); meta["versionId"] != "2" || meta["lastUpdated"] == nil {
		t.Errorf("meta %v, want versionId 2 and lastUpdated", meta)
	}
	if v1 := s.must(200, "GET", "/fhir/Observation/example-weight/_history/1", ""); !strings.Contains(v1.body, `"value":68.2`) {
		t.Errorf("vread 1 is not the first version: %s", v1.body)
	}
	if v2 := s.must(200, "GET", "/fhir/Observation/example-weight/_history/2", ""); !strings.Contains(v2.body, `"value":67.0`) {
		t.Errorf("vread 2 lost the decimal as written (67.0): %s", v2.body)
	}
	if cur := s.must(200, "GET", "/fhir/Observation/example-weight", ""); cur.header.Get("ETag") != `W/"2"` {
		t.Errorf("read ETag %q, want the current version", cur.header.Get("ETag"))
	}
	outcome(t, s.do(s.all, "GET", "/fhir/Observation/example-weight/_history/9", ""), 404)
}

func TestIfMatchGuardsWrites(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name, method, ifMatch, body string
		want                        int
	}{
		{"update with a stale version", "PUT", `W/"7"`, fmt.Sprintf(weight, "1"), 412},
		{"delete with a stale version", "DELETE", `W/"7"`, "", 412},
		{"patch with a stale version", "PATCH", `W/"7"`, `[{"op":"replace","path":"/status","value":"amended"}]`, 412},
		{"update with the current version", "PUT", `W/"1"`, fmt.Sprintf(weight, "2"), 200},
		{"update with the version just replaced", "PUT", `W/"1"`, fmt.Sprintf(weight, "3"), 412},
		{"patch with the current version", "PATCH", `"2"`, `[{"op":"replace","path":"/status","value":"amended"}]`, 200},
		{"delete with the current version", "DELETE", `W/"3"`, "", 204},
		{"update of a deleted resource with If-Match", "PUT", `W/"4"`, fmt.Sprintf(weight, "4"), 412},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			headers := []string{"If-Match", tc.ifMatch}
			if tc.method == "PATCH" {
				headers = append(headers, "Content-Type", jsonPatch)
			}
			res := s.do(s.all, tc.method, "/fhir/Observation/example-weight", tc.body, headers...)
			if res.status != tc.want {
				t.Errorf("%d, want %d\n%s", res.status, tc.want, res.body)
			}
		})
	}
}

func TestDeleteKeepsHistoryAndAnswersGone(t *testing.T) {
	s := newServer(t)
	s.must(204, "DELETE", "/fhir/Condition/third-asthma", "")
	outcome(t, s.do(s.all, "GET", "/fhir/Condition/third-asthma", ""), 410)
	s.must(200, "GET", "/fhir/Condition/third-asthma/_history/1", "")
	outcome(t, s.do(s.all, "GET", "/fhir/Condition/third-asthma/_history/2", ""), 410)
	s.must(204, "DELETE", "/fhir/Condition/third-asthma", "") // again: nothing to do
	h := s.must(200, "GET", "/fhir/Condition/third-asthma/_history", "").json(t)
	if got := ids(t, h, ""); !slices.Equal(got, []string{"(none)", "Condition/third-asthma"}) {
		t.Errorf("history %v, want the deletion then the first version", got)
	}
	if search := s.must(200, "GET", "/fhir/Condition?_id=third-asthma", "").json(t); search["total"] != 0.0 {
		t.Errorf("a deleted resource is found by search: %v", search["total"])
	}
	// Update brings it back as a new version.
	body := `{"resourceType":"Condition","id":"third-asthma","subject":{"reference":"Patient/third"}}`
	if res := s.must(201, "PUT", "/fhir/Condition/third-asthma", body); res.header.Get("ETag") != `W/"3"` {
		t.Errorf("ETag %q, want W/\"3\"", res.header.Get("ETag"))
	}
}

func TestCreateAssignsIDAndVersion(t *testing.T) {
	s := newServer(t)
	res := s.must(201, "POST", "/fhir/Observation",
		`{"resourceType":"Observation","id":"chosen","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/third"}}`)
	m := res.json(t)
	id := m["id"].(string)
	if id == "chosen" || !smartctx.ValidID(id) {
		t.Errorf("create kept the client's id or made a bad one: %q", id)
	}
	if got := res.header.Get("Location"); got != testBase+"/Observation/"+id+"/_history/1" {
		t.Errorf("Location %q", got)
	}
	s.must(200, "GET", "/fhir/Observation/"+id, "")
	if r := s.must(201, "POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"y"}}`, "Prefer", "return=minimal"); r.body != "" {
		t.Errorf("Prefer: return=minimal answered a body: %s", r.body)
	}
}

// "." and ".." match the R4 id grammar but are dot-segments, which URL
// resolution removes ("Observation/.." is the base): the store takes
// neither as an id, in a body or a URL.
func TestRefusesIDsThatAreDotSegments(t *testing.T) {
	s := newServer(t)
	for _, id := range []string{".", ".."} {
		outcome(t, s.do(s.all, "POST", "/fhir/Observation", `{"resourceType":"Observation","id":"`+id+`","status":"final","code":{"text":"x"}}`), 400)
	}
	s.must(201, "POST", "/fhir/Observation", `{"resourceType":"Observation","id":"...","status":"final","code":{"text":"x"}}`)
}

// count returns the total of a search.
func count(s *server, query string) int {
	s.t.Helper()
	return int(s.must(200, "GET", "/fhir/"+query, "").json(s.t)["total"].(float64))
}

func TestConditionalInteractionsFollowR4(t *testing.T) {
	s := newServer(t)
	const obs = `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/third"},` +
		`"identifier":[{"system":"urn:test","value":"%s"}]}`
	// Two Observations share identifier "twin"; "single" is one.
	s.must(201, "POST", "/fhir/Observation", fmt.Sprintf(obs, "twin"))
	s.must(201, "POST", "/fhir/Observation", fmt.Sprintf(obs, "twin"))
	single := s.must(201, "POST", "/fhir/Observation", fmt.Sprintf(obs, "single")).json(t)["id"].(string)
	patch := `[{"op":"replace","path":"/status","value":"amended"}]`

	tests := []struct {
		name, method, path, body string
		headers                  []string
		want                     int
		after                    func(t *testing.T, res response)
	}{
		{name: "create: no match creates", method: "POST", path: "/fhir/Observation", body: fmt.Sprintf(obs, "new"),
			headers: []string{"If-None-Exist", "identifier=urn:test|new"}, want: 201},
		{name: "create: one match creates nothing and answers it", method: "POST", path: "/fhir/Observation", body: fmt.Sprintf(obs, "single"),
			headers: []string{"If-None-Exist", "identifier=urn:test|single"}, want: 200,
			after: func(t *testing.T, res response) {
				if res.json(t)["id"] != single || count(s, "Observation?identifier=urn:test|single") != 1 {
					t.Errorf("a second resource was made, or the answer is not the match: %s", res.body)
				}
			}},
		{name: "create: two matches are refused", method: "POST", path: "/fhir/Observation", body: fmt.Sprintf(obs, "twin"),
			headers: []string{"If-None-Exist", "identifier=urn:test|twin"}, want: 412},
		{name: "update: one match updates it", method: "PUT", path: "/fhir/Observation?identifier=urn:test|single", body: fmt.Sprintf(obs, "single"), want: 200,
			after: func(t *testing.T, res response) {
				if m := res.json(t); m["id"] != single || m["meta"].(map[string]any)["versionId"] != "2" {
					t.Errorf("not version 2 of %s: %s", single, res.body)
				}
			}},
		{name: "update: one match, another id in the body", method: "PUT", path: "/fhir/Observation?identifier=urn:test|single",
			body: strings.Replace(fmt.Sprintf(obs, "single"), `{"resourceType":"Observation",`, `{"resourceType":"Observation","id":"other-glucose",`, 1), want: 400},
		{name: "update: no match creates", method: "PUT", path: "/fhir/Observation?identifier=urn:test|fresh", body: fmt.Sprintf(obs, "fresh"), want: 201},
		{name: "update: two matches are refused", method: "PUT", path: "/fhir/Observation?identifier=urn:test|twin", body: fmt.Sprintf(obs, "twin"), want: 412},
		{name: "patch: no match", method: "PATCH", path: "/fhir/Observation?identifier=urn:test|nothing", body: patch,
			headers: []string{"Content-Type", jsonPatch}, want: 404},
		{name: "patch: two matches are refused", method: "PATCH", path: "/fhir/Observation?identifier=urn:test|twin", body: patch,
			headers: []string{"Content-Type", jsonPatch}, want: 412},
		{name: "patch: one match is patched", method: "PATCH", path: "/fhir/Observation?identifier=urn:test|single", body: patch,
			headers: []string{"Content-Type", jsonPatch}, want: 200},
		{name: "delete: two matches are refused", method: "DELETE", path: "/fhir/Observation?identifier=urn:test|twin", want: 412,
			after: func(t *testing.T, _ response) {
				if n := count(s, "Observation?identifier=urn:test|twin"); n != 2 {
					t.Errorf("%d twins left, want both", n)
				}
			}},
		{name: "delete: one match is deleted", method: "DELETE", path: "/fhir/Observation?identifier=urn:test|single", want: 204,
			after: func(t *testing.T, _ response) {
				outcome(t, s.do(s.all, "GET", "/fhir/Observation/"+single, ""), 410)
			}},
		{name: "delete: no match is nothing to do", method: "DELETE", path: "/fhir/Observation?identifier=urn:test|single", want: 204},
		{name: "a conditional search the evaluator refuses", method: "DELETE", path: "/fhir/Observation?nosuchparam=1", want: 400},
		{name: "a conditional search with a result parameter", method: "DELETE", path: "/fhir/Observation?identifier=urn:test|twin&_count=1", want: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := s.do(s.all, tc.method, tc.path, tc.body, tc.headers...)
			if res.status != tc.want {
				t.Fatalf("%d, want %d\n%s", res.status, tc.want, res.body)
			}
			if tc.after != nil {
				tc.after(t, res)
			}
		})
	}
}

func TestJSONPatch(t *testing.T) {
	tests := []struct {
		name, patch, contentType string
		want                     int
		check                    string // in the answer
	}{
		{"replace", `[{"op":"replace","path":"/status","value":"amended"}]`, jsonPatch, 200, `"status":"amended"`},
		{"add to an array's end", `[{"op":"add","path":"/performer/-","value":{"reference":"Practitioner/x"}}]`, jsonPatch, 200, `Practitioner/x`},
		{"add inside an array", `[{"op":"add","path":"/performer/0","value":{"reference":"Practitioner/first"}}]`, jsonPatch, 200, `"performer":[{"reference":"Practitioner/first"},{"reference":"Practitioner/dr-jones"}]`},
		{"remove", `[{"op":"remove","path":"/performer"}]`, jsonPatch, 200, `"status":"final"`},
		{"copy and move", `[{"op":"copy","from":"/status","path":"/language"},{"op":"move","from":"/language","path":"/implicitRules"}]`, jsonPatch, 200, `"implicitRules":"final"`},
		{"test that holds, numbers compared by value", `[{"op":"test","path":"/valueQuantity/value","value":68.20},{"op":"replace","path":"/status","value":"amended"}]`, jsonPatch, 200, `"amended"`},
		{"add to a new array, then test", `[{"op":"add","path":"/extension","value":[]},{"op":"add","path":"/extension/-","value":{"url":"u"}},{"op":"test","path":"/extension/0/url","value":"u"}]`, jsonPatch, 200, `"extension":[{"url":"u"}]`},
		{"escaped pointer", `[{"op":"add","path":"/x~1y~0z","value":1}]`, jsonPatch, 200, `"x/y~z":1`},
		{"test that fails", `[{"op":"test","path":"/status","value":"preliminary"},{"op":"replace","path":"/status","value":"amended"}]`, jsonPatch, 409, ""},
		{"path that is not there", `[{"op":"replace","path":"/note/0/text","value":"x"}]`, jsonPatch, 409, ""},
		{"index past the end", `[{"op":"add","path":"/performer/5","value":{}}]`, jsonPatch, 409, ""},
		{"leading zero index", `[{"op":"remove","path":"/performer/00"}]`, jsonPatch, 409, ""},
		{"move into itself", `[{"op":"move","from":"/code","path":"/code/coding"}]`, jsonPatch, 409, ""},
		{"change of id", `[{"op":"replace","path":"/id","value":"example-weight"}]`, jsonPatch, 422, ""},
		{"change of resourceType", `[{"op":"replace","path":"/resourceType","value":"Condition"}]`, jsonPatch, 422, ""},
		{"a whole document that is not a resource", `[{"op":"replace","path":"","value":[1]}]`, jsonPatch, 422, ""},
		{"copies that would double the resource forty times", "[" + strings.TrimSuffix(strings.Repeat(`{"op":"copy","from":"/code","path":"/code/coding/-"},`, 40), ",") + "]", jsonPatch, 422, ""},
		{"not an array", `{"op":"replace"}`, jsonPatch, 400, ""},
		{"unknown op", `[{"op":"frobnicate","path":"/status"}]`, jsonPatch, 400, ""},
		{"bad pointer escape", `[{"op":"remove","path":"/a~2"}]`, jsonPatch, 400, ""},
		{"add without value", `[{"op":"add","path":"/status"}]`, jsonPatch, 400, ""},
		{"FHIRPath Patch is not supported", `{"resourceType":"Parameters"}`, "application/fhir+json", 415, ""},
	}
	s := newServer(t)
	seed := s.must(200, "GET", "/fhir/Observation/example-weight", "").body
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Each case patches its own copy of example-weight.
			id := fmt.Sprintf("w%d", i)
			path := "/fhir/Observation/" + id
			s.must(201, "PUT", path, strings.Replace(seed, `"id":"example-weight"`, `"id":"`+id+`"`, 1))
			res := s.do(s.all, "PATCH", path, tc.patch, "Content-Type", tc.contentType)
			if res.status != tc.want {
				t.Fatalf("%d, want %d\n%s", res.status, tc.want, res.body)
			}
			if tc.want != 200 {
				outcome(t, res, tc.want)
				if cur := s.must(200, "GET", path, ""); cur.header.Get("ETag") != `W/"1"` {
					t.Errorf("a refused patch changed the resource: %s", cur.body)
				}
				return
			}
			if !strings.Contains(res.body, tc.check) {
				t.Errorf("answer lacks %s:\n%s", tc.check, res.body)
			}
			if res.header.Get("ETag") != `W/"2"` {
				t.Errorf("ETag %q, want W/\"2\"", res.header.Get("ETag"))
			}
		})
	}
}

func TestBadRequestsGetAnOperationOutcome(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"body that is not JSON", "POST", "/fhir/Observation", `{"resourceType":`, 400},
		{"body of another type", "POST", "/fhir/Observation", `{"resourceType":"Condition"}`, 400},
		{"key given twice", "POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","Status":"x"}`, 400},
		{"update without the URL's id", "PUT", "/fhir/Observation/example-weight", `{"resourceType":"Observation","id":"other-glucose"}`, 400},
		{"unknown search parameter", "GET", "/fhir/Observation?colour=blue", "", 400},
		{"chained search", "GET", "/fhir/Observation?subject.name=Shaw", "", 400},
		{"value of the wrong type", "GET", "/fhir/Observation?date=yesterday", "", 400},
		{"result parameter not supported", "GET", "/fhir/Observation?_contained=true", "", 400},
		{"_summary of no R4 value", "GET", "/fhir/Observation?_summary=short", "", 400},
		{"_elements of a nested element", "GET", "/fhir/Observation?_elements=code.coding", "", 400},
		{"_elements of no element", "GET", "/fhir/Observation?_elements=status,,code", "", 400},
		{"_summary=count on a read", "GET", "/fhir/Observation/example-weight?_summary=count", "", 400},
		{"_include of a parameter that is not a reference", "GET", "/fhir/Observation?_include=Observation:code", "", 400},
		{"_type on a type search", "GET", "/fhir/Observation?_type=Patient", "", 400},
		{"non-Patient compartment", "GET", "/fhir/Encounter/example-visit/Observation", "", 400},
		{"history parameter not supported", "GET", "/fhir/Observation/_history?_at=2026", "", 400},
		{"bad _since", "GET", "/fhir/_history?_since=yesterday", "", 400},
		{"unknown resource", "GET", "/fhir/Observation/nope", "", 404},
		{"operation not declared to the Guard", "GET", "/fhir/Patient/example/$nope", "", 403},
		{"method not allowed there", "DELETE", "/fhir/Observation/_history", "", 405},
		{"bundle that is not a batch", "POST", "/fhir", `{"resourceType":"Bundle","type":"collection"}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outcome(t, s.do(s.all, tc.method, tc.path, tc.body), tc.want)
		})
	}
}

func TestSearchEvaluatesEveryParameterWithTheLibrary(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name, query string
		want        []string // match entries, in order
	}{
		{"token with system", "Observation?patient=example&category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
			[]string{"Observation/example-glucose", "Observation/example-hba1c", "Observation/example-ldl"}},
		{"token code alternatives", "Observation?code=4548-4,18262-6&subject=Patient/other", []string{"Observation/other-ldl"}},
		{"quantity with a prefix", "Observation?value-quantity=gt150", []string{"Observation/example-steps", "Observation/other-ldl",
			"Observation/other-steps", "Observation/other-systolic"}},
		{"date prefix", "Observation?patient=example&date=lt2026-10-02T09:20:00Z", []string{"Observation/example-heart-rate-visit", "Observation/example-smoking"}},
		{"string, case and prefix", "Patient?name=shA", []string{"Patient/example"}},
		{"_id", "Condition?_id=example-diabetes,third-asthma", []string{"Condition/example-diabetes", "Condition/third-asthma"}},
		{"reference to an encounter", "Condition?encounter=Encounter/example-visit", []string{"Condition/example-bronchitis"}},
		{"health-concern Conditions", "Condition?category=http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern",
			[]string{"Condition/example-food-insecurity", "Condition/other-fall-risk"}},
		{"compartment search", "Patient/third/Condition", []string{"Condition/third-asthma"}},
		{"compartment search with a parameter", "Patient/example/Observation?category=social-history", []string{"Observation/example-smoking"}},
		{"compartment search of every type", "Patient/third/*", []string{"CareTeam/third-former-care-team", "Condition/third-asthma", "MedicationRequest/third-albuterol",
			"Observation/third-hba1c", "Observation/third-weight", "Patient/third"}},
		{"system search with _type", "?_type=Goal,Encounter&_id=example-visit,other-bp-goal", []string{"Encounter/example-visit", "Goal/other-bp-goal"}},
		{"_sort descending", "Goal?_sort=-_id", []string{"Goal/other-bp-goal", "Goal/example-hba1c-goal"}},
		{"missing element never matches", "Observation?value-concept=8517006", []string{"Observation/other-smoking"}},
		{":missing", "Condition?encounter:missing=false", []string{"Condition/example-bronchitis", "Condition/other-sprain"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := s.must(200, "GET", "/fhir/"+tc.query, "").json(t)
			if got := ids(t, b, "match"); !slices.Equal(got, tc.want) {
				t.Errorf("found %v, want %v", got, tc.want)
			}
			path, _, _ := strings.Cut(tc.query, "?")
			if self := linkURL(b, "self"); !strings.HasPrefix(self, strings.TrimSuffix(testBase+"/"+path, "/")+"?") && self != testBase+"/"+path {
				t.Errorf("self link %q", self)
			}
			if b["type"] != "searchset" || b["total"] != float64(len(tc.want)) {
				t.Errorf("type %v total %v, want a searchset of %d", b["type"], b["total"], len(tc.want))
			}
		})
	}
}

func TestSearchIncludesAndCounts(t *testing.T) {
	s := newServer(t)
	t.Run("_include adds what the matches refer to", func(t *testing.T) {
		b := s.must(200, "GET", "/fhir/Condition?_id=example-bronchitis&_include=Condition:encounter&_include=Condition:subject:Patient", "").json(t)
		if got := ids(t, b, "include"); !slices.Equal(got, []string{"Encounter/example-visit", "Patient/example"}) {
			t.Errorf("included %v", got)
		}
		if b["total"] != 1.0 {
			t.Errorf("total %v counts the included resources", b["total"])
		}
	})
	t.Run("_revinclude adds what refers to the matches", func(t *testing.T) {
		b := s.must(200, "GET", "/fhir/Encounter?_id=example-visit&_revinclude=Condition:encounter&_revinclude=Observation:encounter", "").json(t)
		if got := ids(t, b, "include"); !slices.Equal(got, []string{"Condition/example-bronchitis", "Observation/example-heart-rate-visit"}) {
			t.Errorf("included %v", got)
		}
	})
	t.Run("_summary=count answers the total only", func(t *testing.T) {
		b := s.must(200, "GET", "/fhir/Observation?patient=example&_summary=count", "").json(t)
		if b["total"] != 15.0 || b["entry"] != nil {
			t.Errorf("total %v, entries %v; want 15 and none", b["total"], b["entry"])
		}
	})
	t.Run("POST _search reads the form", func(t *testing.T) {
		res := s.do(s.all, "POST", "/fhir/Goal/_search", "subject=Patient/other", "Content-Type", "application/x-www-form-urlencoded")
		if got := ids(t, res.json(t), "match"); !slices.Equal(got, []string{"Goal/other-bp-goal"}) {
			t.Errorf("found %v (%d)", got, res.status)
		}
	})
}

func TestSearchPagesWithNextLinks(t *testing.T) {
	s := newServer(t)
	all := ids(t, s.must(200, "GET", "/fhir/Observation?_count=1000", "").json(t), "match")
	if len(all) < 10 {
		t.Fatalf("only %d Observations in the sample data", len(all))
	}
	var paged []string
	next := "/fhir/Observation?_count=3"
	for pages := 0; next != ""; pages++ {
		if pages > len(all) {
			t.Fatal("the next links do not end")
		}
		b := s.must(200, "GET", next, "").json(t)
		if b["total"] != float64(len(all)) {
			t.Errorf("page %d: total %v, want %d", pages, b["total"], len(all))
		}
		if self := linkURL(b, "self"); !strings.HasPrefix(self, testBase+"/Observation?_count=3") {
			t.Errorf("self link %q", self)
		}
		got := ids(t, b, "match")
		if len(got) > 3 {
			t.Errorf("page of %d entries with _count=3", len(got))
		}
		paged = append(paged, got...)
		next = ""
		if u := linkURL(b, "next"); u != "" {
			next = relative(t, u)
		}
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages hold %v, want %v", paged, all)
	}
	if b := s.must(200, "GET", "/fhir/Observation?_count=0", "").json(t); b["entry"] != nil || linkURL(b, "next") != "" {
		t.Errorf("_count=0 answered entries or a next link: %v", b)
	}
}

func TestHistoryAtEveryLevel(t *testing.T) {
	s := newServer(t)
	seeded := int(s.must(200, "GET", "/fhir/_history?_count=0", "").json(t)["total"].(float64))
	if seeded != len(Seed()) {
		t.Errorf("system history holds %d versions, want the %d seeded", seeded, len(Seed()))
	}
	mark := s.must(200, "PUT", "/fhir/Goal/example-hba1c-goal", `{"resourceType":"Goal","id":"example-hba1c-goal","lifecycleStatus":"completed",`+
		`"description":{"text":"x"},"subject":{"reference":"Patient/example"}}`).json(t)["meta"].(map[string]any)["lastUpdated"].(string)
	s.must(204, "DELETE", "/fhir/Goal/other-bp-goal", "")
	s.must(200, "PATCH", "/fhir/Encounter/example-visit", `[{"op":"replace","path":"/status","value":"cancelled"}]`, "Content-Type", jsonPatch)

	tests := []struct {
		name, path string
		want       []string // entries, newest first
		methods    []string
	}{
		{"type history since the update", "/fhir/Goal/_history?_since=" + mark, []string{"(none)", "Goal/example-hba1c-goal"}, []string{"DELETE", "PUT"}},
		{"system history since the update", "/fhir/_history?_since=" + mark, []string{"Encounter/example-visit", "(none)", "Goal/example-hba1c-goal"}, []string{"PATCH", "DELETE", "PUT"}},
		{"system history, newest first, _count", "/fhir/_history?_count=2", []string{"Encounter/example-visit", "(none)"}, []string{"PATCH", "DELETE"}},
		{"instance history", "/fhir/Encounter/example-visit/_history", []string{"Encounter/example-visit", "Encounter/example-visit"}, []string{"PATCH", "PUT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := s.must(200, "GET", tc.path, "").json(t)
			if b["type"] != "history" {
				t.Errorf("type %v", b["type"])
			}
			if got := ids(t, b, ""); !slices.Equal(got, tc.want) {
				t.Errorf("entries %v, want %v", got, tc.want)
			}
			var methods []string
			for _, e := range b["entry"].([]any) {
				methods = append(methods, e.(map[string]any)["request"].(map[string]any)["method"].(string))
			}
			if !slices.Equal(methods, tc.methods) {
				t.Errorf("methods %v, want %v", methods, tc.methods)
			}
		})
	}
	t.Run("next link of a history page", func(t *testing.T) {
		b := s.must(200, "GET", "/fhir/_history?_count=2", "").json(t)
		next := linkURL(b, "next")
		if next == "" {
			t.Fatal("no next link")
		}
		page2 := ids(t, s.must(200, "GET", relative(t, next), "").json(t), "")
		if page2[0] != "Goal/example-hba1c-goal" {
			t.Errorf("page 2 starts with %v, want the third newest version", page2)
		}
	})
}

func TestMetadataDescribesTheServer(t *testing.T) {
	s := newServer(t)
	for _, tok := range []string{"", s.all} {
		var res response
		if tok == "" { // as the demo mounts it, outside the Guard
			rec := httptest.NewRecorder()
			s.store.Metadata(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/fhir/metadata", nil))
			res = response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
		} else { // through the Guard: any valid token may read it
			res = s.must(200, "GET", "/fhir/metadata", "")
		}
		m := res.json(t)
		if m["resourceType"] != "CapabilityStatement" || m["fhirVersion"] != "4.0.1" || m["kind"] != "instance" {
			t.Fatalf("not an R4 CapabilityStatement: %s", res.body)
		}
		rest := m["rest"].([]any)[0].(map[string]any)
		var types []string
		for _, r := range rest["resource"].([]any) {
			types = append(types, r.(map[string]any)["type"].(string))
		}
		for _, want := range []string{"Condition", "Encounter", "Goal", "Observation", "Patient"} {
			if !slices.Contains(types, want) {
				t.Errorf("CapabilityStatement lacks %s: %v", want, types)
			}
		}
		if !strings.Contains(res.body, `"code":"transaction"`) || !strings.Contains(res.body, jsonPatch) {
			t.Errorf("CapabilityStatement lacks transaction or JSON Patch: %s", res.body)
		}
	}
}

func TestEverythingIsThePatientsCompartment(t *testing.T) {
	s := newServer(t)
	b := s.must(200, "GET", "/fhir/Patient/third/$everything", "").json(t)
	want := []string{"CareTeam/third-former-care-team", "Condition/third-asthma", "MedicationRequest/third-albuterol", "Observation/third-hba1c",
		"Observation/third-weight", "Patient/third"}
	if got := ids(t, b, ""); !slices.Equal(got, want) {
		t.Errorf("$everything %v, want %v", got, want)
	}
	outcome(t, s.do(s.all, "GET", "/fhir/Patient/nobody/$everything", ""), http.StatusNotFound)
}
