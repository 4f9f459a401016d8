package middleware_test

// Attacks of a patient app holding patient/ scopes for Patient/123 on the
// data of Patient/456. Each test fails if its attack works.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
)

// refused decides one request for Patient/123 and fails the test if it is
// allowed.
func refused(t *testing.T, cfg smartmw.Config, scopes, method, target, body string, hdr map[string]string) {
	t.Helper()
	a := newAuthorizer(t, cfg)
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, base+"/"+target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, base+"/"+target, nil)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	d, err := a.Decide(context.Background(), grant(scopes, "123"), r)
	if err == nil {
		t.Fatalf("%s %s allowed: %+v", method, target, d)
	}
	var e *smartmw.Error
	if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 {
		t.Fatalf("%s %s: err = %v, want a 4xx *Error", method, target, err)
	}
}

func TestRefusesPathTricks(t *testing.T) {
	for _, target := range []string{
		"Observation/../Patient/456",
		"Observation/%2e%2e/Patient/456",
		"Observation%2F..%2FPatient%2F456",
		"Patient/123/../456",
		"Patient/123/_history/1/../../456",
		"Patient/123/%2e%2e/456",
		"Patient//456",
		"/Patient/456",
		"Patient/456/",
		"Patient/456;jsessionid=1",
		"Patient;x/456",
		"patient/456",
		"PATIENT/456",
		"Patient/456%00",
		"Patient/\u0031\u0032\u0033/../456",
		"Patient/１２３",
		"Patient/456/Observation",
		"Patient/456/Observation/_search",
		"Patient/456/*",
		"Patient/123/Patient",
		"Patient/456/$everything",
		"Patient/123/Observation/../../456",
		"Patient/123/Observation/1",
		"Patient/123/Observation/_history",
		"Patient/" + strings.Repeat("1", 65),
		"metadata/x",
		"metadata/../Patient/456",
		"_history",
		"Observation/_history",
		"Patient/$everything",
		"$everything",
		"$export",
		"Patient/$export",
		"Group/1/$export",
		"$graphql?query=x",
		"Patient/123/$graphql",
		"$process-message",
		"Observation/$lastn?patient=456",
		"Observation/$lastn?patient=123",
		"Patient/123/$everything/../../456",
		"Patient/123\\..\\456",
	} {
		t.Run(target, func(t *testing.T) {
			if strings.ContainsAny(target, "\\ ") || strings.Contains(target, "１") {
				// httptest.NewRequest would panic on some; build by hand.
				r := &http.Request{Method: "GET", URL: mustURL(t, base+"/"+strings.ReplaceAll(target, "\\", "%5C")), Header: http.Header{}}
				a := newAuthorizer(t, smartmw.Config{})
				if d, err := a.Decide(context.Background(), grant("launch/patient patient/*.rs", "123"), r); err == nil {
					t.Fatalf("allowed: %+v", d)
				}
				return
			}
			refused(t, smartmw.Config{}, "launch/patient patient/*.rs", "GET", target, "", nil)
		})
	}
}

func mustURL(t *testing.T, s string) *urlT {
	t.Helper()
	u, err := parseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRefusesQueryTricks(t *testing.T) {
	for _, target := range []string{
		"Observation?patient=456",
		"Observation?patient=123,456",
		"Observation?patient=Patient/123,Patient/456",
		"Observation?patient%3D123%26patient=456",
		"Observation?patient=123%2C456",
		"Observation?subject=Group/9",
		"Observation?subject=Patient/123/_history/1",
		"Observation?subject=https://other.example/fhir/Patient/123",
		"Observation?subject=" + base + "Patient/123",
		"Observation?subject=" + base + "//Patient/123",
		"Observation?subject=http://ehr.example.org/fhir/Patient/123",
		"Observation?subject=Patient/123/",
		"Observation?subject=Patient/123%20",
		"Observation?subject=+Patient/123",
		"Observation?subject=Patient/123+",
		"Observation?subject=patient/123",
		"Observation?subject=Patient%2F123%2C456",
		"Observation?patient=123?patient=456",
		"Observation?_has:Observation:patient:code=x",
		"Observation?patient%00=123",
		// Names a server could read as the patient parameter: case,
		// a NUL it cuts at, a space it trims, a modifier it folds.
		"Observation?Patient=456",
		"Observation?PATIENT=Patient/456",
		"Observation?code=x&Subject=Patient/456",
		"Observation?subject:PATIENT=456",
		"Observation?subject:patient=456",
		"Observation?patient%00=456",
		"Observation?code=x&patient%00=456",
		"Observation?patient%20=456",
		"Observation?patient+=456",
		"Observation?code=x&patient%3D456",
		"Patient?_ID=456",
		"Patient?_Id=123,456",
		"Patient?_id=456",
		"Patient?_id=123,456",
		"Patient?_id:not=123",
		"Patient?_id:missing=false",
		"Patient?_has:Observation:patient:_id=x",
		// Includes are answered, each included resource checked by the
		// response guard (TestRevincludeOnATypeOutsideTheCompartmentLeaksNoPatient,
		// TestNoOtherPatientLeaves); a wildcard is refused.
		"Observation?patient=123&_include:iterate=*",
		"Observation?patient=123&_revinclude=*",
		"Observation?patient=123&_query=x",
		"Observation?patient=123&_method=DELETE",
		"Observation?patient=123&%5Fmethod=DELETE",
		"Observation?patient=123;patient=456",
		"Observation?patient=123#x",
		"?_type=Observation&patient=123",
		"?patient=123",
		"_search?patient=123",
		"Observation/_history?patient=123",
		"_history?patient=123",
		"Group?member=Patient/123,Patient/456",
	} {
		t.Run(target, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient patient/*.rs", "GET", target, "", nil)
		})
	}
}

type urlT = url.URL

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }

// A Go handler decoding FHIR JSON into structs with encoding/json matches
// keys case-insensitively (with Unicode folding: "ſ" is "s") and keeps
// the last of duplicates: a body whose check reads "subject" while the
// handler reads "Subject" or "ſubject" writes into another patient's
// record.
func TestRefusesCaseFoldedKeysInBodies(t *testing.T) {
	bodies := map[string]string{
		"Subject after subject":     `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"Subject":{"reference":"Patient/456"}}`,
		"long s subject":            `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"ſubject":{"reference":"Patient/456"}}`,
		"Reference after reference": `{"resourceType":"Observation","subject":{"reference":"Patient/123","Reference":"Patient/456"}}`,
		"REFERENCE":                 `{"resourceType":"Observation","subject":{"reference":"Patient/123","REFERENCE":"Patient/456"}}`,
		"performer 123 Subject 456": `{"resourceType":"Observation","performer":[{"reference":"Patient/123"}],"SUBJECT":{"reference":"Patient/456"}}`,
		"ResourceType":              `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"ResourceType":"Condition"}`,
		"escaped key":               `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"subj\u0065ct":{"reference":"Patient/456"}}`,
		"duplicate subject":         `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"subject":{"reference":"Patient/456"}}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient patient/Observation.c", "POST", "Observation", body, nil)
			refused(t, smartmw.Config{}, "launch/patient patient/Observation.u", "PUT", "Observation/o1",
				strings.Replace(body, `"Observation",`, `"Observation","id":"o1",`, 1), nil)
		})
	}
}

// The same with a granular scope: the check reads one category, the
// handler another.
func TestRefusesCaseFoldedKeysAgainstGranularScopes(t *testing.T) {
	cat := func(code string) string {
		return `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"` + code + `"}]}`
	}
	for name, body := range map[string]string{
		"Category": `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"category":[` + cat("laboratory") + `],"Category":[` + cat("social-history") + `]}`,
		"Code":     `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","Code":"social-history"}]}]}`,
		"Coding":   `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}],"Coding":[{"system":"x","code":"y"}]}]}`,
		"System":   `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","System":"x","code":"laboratory"}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient patient/Observation.c?category="+lab, "POST", "Observation", body, nil)
		})
	}
}

// guarded runs target through Handler for Patient/123 with a handler that
// answers body, and returns what the client gets.
func guarded(t *testing.T, cfg smartmw.Config, scopes, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	a := newAuthorizer(t, cfg)
	h := a.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(body))
	}))
	r := httptest.NewRequest("GET", base+"/"+target, nil)
	r = r.WithContext(smartctx.NewContext(r.Context(), grant(scopes, "123")))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// leaks reports whether a client reading the body with exact,
// last-wins key matching (JavaScript's JSON.parse) sees Patient/456.
func leaks(body []byte) bool { return strings.Contains(string(body), "Patient/456") }

// The response guard decoded bodies into Go structs, which match keys
// case-insensitively: a body whose "resourceType" the client reads as
// Observation but the guard as Bundle, or a Bundle entry whose "resource"
// the client reads but the guard reads "Resource", got through.
func TestRefusesGuardKeyConfusion(t *testing.T) {
	o456 := observation("x", "456", labCategory)
	o123 := observation("a", "123", labCategory)
	cases := map[string]struct{ target, body string }{
		"ResourceType Bundle after resourceType Observation": {"Observation/x",
			strings.TrimSuffix(o456, "}") + `,"ResourceType":"Bundle"}`},
		"Resource after resource": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + o456 + `,"Resource":` + o123 + `}]}`},
		"resource twice": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + o123 + `,"resource":` + o456 + `}]}`},
		"resourcetype OperationOutcome in an outcome entry": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + strings.TrimSuffix(o456, "}") + `,"resourcetype":"OperationOutcome"},"search":{"mode":"outcome"}}]}`},
		"Mode outcome": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"OperationOutcome","issue":[]},"Resource":` + o456 + `,"search":{"mode":"outcome"}}]}`},
		"Type batch-response": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","Type":"batch-response","entry":[{"resource":` + o456 + `}]}`},
		"entry twice": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + o123 + `}],"entry":[{"resource":` + o456 + `}]}`},
		"Entry beside entry": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + o123 + `}],"Entry":[{"resource":` + o456 + `}]}`},
		"resourceType twice": {"Observation/x",
			`{"resourceType":"Bundle","resourceType":"Observation","subject":{"reference":"Patient/456"}}`},
		"contained other patient in a Bundle entry of a Bundle": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + o456 + `}]}}]}`},
		"history with another patient's version": {"Observation/x/_history",
			`{"resourceType":"Bundle","type":"history","entry":[{"resource":` + o123 + `},{"resource":` + o456 + `}]}`},
		"OperationOutcome entry matching mode": {"Observation?patient=123",
			`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"OperationOutcome","issue":[{"diagnostics":"Patient/456"}]},"search":{"mode":"match"}}]}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := guarded(t, smartmw.Config{}, "launch/patient patient/Observation.rs", tc.target, tc.body)
			if w.Code == 200 && leaks(w.Body.Bytes()) {
				t.Fatalf("leaked (%d): %s", w.Code, w.Body)
			}
		})
	}
}

// Patient/123/* may return Patients whose link names 123 (FHIR puts them
// in the compartment); the guard keeps only Patient/123 itself.
func TestRefusesLinkedPatientThroughCompartmentSearch(t *testing.T) {
	body := `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"123"}},` +
		`{"resource":{"resourceType":"Patient","id":"456","link":[{"other":{"reference":"Patient/123"},"type":"seealso"}],"name":[{"text":"Patient/456"}]}}]}`
	w := guarded(t, smartmw.Config{}, "launch/patient patient/*.rs", "Patient/123/*?_type=Patient", body)
	if w.Code == 200 && leaks(w.Body.Bytes()) {
		t.Fatalf("leaked: %s", w.Body)
	}
}

// Resources whose "type" is not a string (Encounter, Coverage, Account...)
// still pass the guard when they are the patient's.
func TestGuardReadsResourcesWithATypeElement(t *testing.T) {
	body := `{"resourceType":"Encounter","id":"e1","type":[{"text":"x"}],"subject":{"reference":"Patient/123"}}`
	w := guarded(t, smartmw.Config{}, "launch/patient patient/Encounter.rs", "Encounter/e1", body)
	if w.Code != 200 || w.Body.String() != body {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// FHIR R4 puts an Observation in the compartment of its performer too: a
// patient app for Patient/123 naming itself performer (or recorder,
// asserter, author...) must not thereby write into Patient/456's record.
func TestRefusesWritingIntoAnotherCompartmentThroughASecondReference(t *testing.T) {
	for name, tc := range map[string]struct{ typ, body string }{
		"subject 456 performer 123": {"Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/456"},"performer":[{"reference":"Patient/123"}]}`},
		"performer 456 subject 123": {"Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"Patient/456"}]}`},
		"conditional reference":     {"Observation", `{"resourceType":"Observation","subject":{"reference":"Patient?identifier=mrn|456"},"performer":[{"reference":"Patient/123"}]}`},
		"absolute other server":     {"Observation", `{"resourceType":"Observation","subject":{"reference":"https://other.example/fhir/Patient/456"},"performer":[{"reference":"Patient/123"}]}`},
		"absolute under base":       {"Observation", `{"resourceType":"Observation","subject":{"reference":"` + base + `/Patient/456"},"performer":[{"reference":"Patient/123"}]}`},
		"versioned":                 {"Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/456/_history/1"},"performer":[{"reference":"Patient/123"}]}`},
		"allergy recorder":          {"AllergyIntolerance", `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/456"},"recorder":{"reference":"Patient/123"}}`},
		"condition asserter":        {"Condition", `{"resourceType":"Condition","subject":{"reference":"Patient/456"},"asserter":{"reference":"Patient/123"}}`},
		"communication sender":      {"Communication", `{"resourceType":"Communication","status":"completed","subject":{"reference":"Patient/456"},"sender":{"reference":"Patient/123"}}`},
		"document author":           {"DocumentReference", `{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/456"},"author":[{"reference":"Patient/123"}]}`},
		"id prefix":                 {"Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/1234"},"performer":[{"reference":"Patient/123"}]}`},
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient patient/*.cu", "POST", tc.typ, tc.body, nil)
			refused(t, smartmw.Config{}, "launch/patient patient/*.cu", "PUT", tc.typ+"/x",
				strings.Replace(tc.body, `"`+tc.typ+`",`, `"`+tc.typ+`","id":"x",`, 1), nil)
			// user/ scopes write wherever the user may: not the
			// patient's own affair (mixing never widens patient/).
			refused(t, smartmw.Config{}, "launch/patient user/Practitioner.cu patient/*.cu", "POST", tc.typ, tc.body, nil)
		})
	}
	// Still allowed: other references that are not to a Patient.
	a := newAuthorizer(t, smartmw.Config{})
	for _, body := range []string{
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"Practitioner/9"},{"reference":"Patient/123"}]}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"#p1"}],"contained":[{"resourceType":"Patient","id":"p1"}]}`,
	} {
		r := httptest.NewRequest("POST", base+"/Observation", strings.NewReader(body))
		if _, err := a.Decide(context.Background(), grant("launch/patient patient/Observation.c", "123"), r); err != nil {
			t.Errorf("%s refused: %v", body, err)
		}
	}
}

// A patch of one of the patient's Observations that rewrites its subject
// moves it into Patient/456's record: the library saw no body to check
// and the response guard, at best, refused the answer after the change.
func TestRefusesPatchMovingAResourceOutOfTheCompartment(t *testing.T) {
	hdr := map[string]string{"Content-Type": "application/json-patch+json"}
	for _, body := range []string{
		`[{"op":"replace","path":"/subject/reference","value":"Patient/456"}]`,
		`[{"op":"replace","path":"/subject","value":{"reference":"Patient/456"}}]`,
		`[{"op":"add","path":"/performer/-","value":{"reference":"Patient/456"}}]`,
		`[{"op":"remove","path":"/subject"}]`,
		`[{"op":"replace","path":"/Subject/reference","value":"Patient/456"}]`,
		`[{"op":"replace","path":"/ſubject/reference","value":"Patient/456"}]`,
		`[{"op":"move","from":"/subject","path":"/note"}]`,
		`[{"op":"copy","from":"/note/0","path":"/subject"}]`,
		`[{"op":"replace","path":"","value":{"resourceType":"Observation","subject":{"reference":"Patient/456"}}}]`,
		`[{"op":"replace","path":"/","value":{}}]`,
		`[{"op":"test","path":"/status","value":"final"},{"op":"replace","path":"/subject/reference","value":"Patient/456"}]`,
		`[{"op":"replace","path":"/subject/reference","value":"Patient/456","path":"/status"}]`,
		`[{"op":"replace","path":"/status","value":"x","Path":"/subject/reference"}]`,
		`{"op":"replace","path":"/subject/reference","value":"Patient/456"}`,
		`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Observation.subject"},{"name":"value","valueReference":{"reference":"Patient/456"}}]}]}`,
		`<diff><replace sel="Observation/subject/reference/@value">Patient/456</replace></diff>`,
	} {
		t.Run(body, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient patient/Observation.u", "PATCH", "Observation/1", body, hdr)
			refused(t, smartmw.Config{}, "launch/patient patient/Observation.us", "PATCH", "Observation?patient=123", body, hdr)
		})
	}
	// Granular: moving an Observation out of its category.
	refused(t, smartmw.Config{}, "launch/patient patient/Observation.u?category="+lab, "PATCH", "Observation/1",
		`[{"op":"replace","path":"/category/0/coding/0/code","value":"social-history"}]`, hdr)
	// A patch that leaves those elements alone still passes.
	a := newAuthorizer(t, smartmw.Config{})
	r := httptest.NewRequest("PATCH", base+"/Observation/1", strings.NewReader(`[{"op":"test","path":"/subject/reference","value":"Patient/123"},{"op":"replace","path":"/status","value":"amended"}]`))
	if _, err := a.Decide(context.Background(), grant("launch/patient patient/Observation.u", "123"), r); err != nil {
		t.Fatalf("harmless patch refused: %v", err)
	}
}

func bundleOf(typ string, entries ...string) string {
	return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
}

func TestRefusesBundleTricks(t *testing.T) {
	o := func(subject string) string {
		return `{"resourceType":"Observation","subject":{"reference":"` + subject + `"}}`
	}
	for name, body := range map[string]string{
		"read other patient":          bundleOf("batch", `{"request":{"method":"GET","url":"Patient/456"}}`),
		"absolute URL under base":     bundleOf("batch", `{"request":{"method":"GET","url":"`+base+`/Patient/456"}}`),
		"absolute URL other server":   bundleOf("batch", `{"request":{"method":"GET","url":"https://other.example/fhir/Patient/123"}}`),
		"base with double slash":      bundleOf("batch", `{"request":{"method":"GET","url":"`+base+`//Patient/456"}}`),
		"dot-dot":                     bundleOf("batch", `{"request":{"method":"GET","url":"Patient/123/../456"}}`),
		"escaped dot-dot":             bundleOf("batch", `{"request":{"method":"GET","url":"Patient/123/%2e%2e/456"}}`),
		"leading slash":               bundleOf("batch", `{"request":{"method":"GET","url":"/Patient/456"}}`),
		"fragment":                    bundleOf("batch", `{"request":{"method":"GET","url":"Patient/456#x"}}`),
		"lower-case method":           bundleOf("batch", `{"request":{"method":"get","url":"Patient/123"}}`),
		"HEAD in bundle":              bundleOf("batch", `{"request":{"method":"HEAD","url":"Patient/456"}}`),
		"search other patient":        bundleOf("batch", `{"request":{"method":"GET","url":"Observation?patient=456"}}`),
		"_method in entry":            bundleOf("batch", `{"request":{"method":"GET","url":"Patient/123?_method=DELETE"}}`),
		"create for other patient":    bundleOf("transaction", `{"fullUrl":"urn:uuid:1","resource":`+o("Patient/456")+`,"request":{"method":"POST","url":"Observation"}}`),
		"create urn:uuid subject":     bundleOf("transaction", `{"fullUrl":"urn:uuid:1","resource":`+o("urn:uuid:2")+`,"request":{"method":"POST","url":"Observation"}}`),
		"create conditional ref":      bundleOf("transaction", `{"resource":`+o("Patient?identifier=x")+`,"request":{"method":"POST","url":"Observation"}}`),
		"create Patient":              bundleOf("transaction", `{"fullUrl":"urn:uuid:2","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}`),
		"update other patient":        bundleOf("transaction", `{"resource":{"resourceType":"Patient","id":"456"},"request":{"method":"PUT","url":"Patient/456"}}`),
		"update id mismatch":          bundleOf("transaction", `{"resource":{"resourceType":"Patient","id":"456"},"request":{"method":"PUT","url":"Patient/123"}}`),
		"conditional update other":    bundleOf("transaction", `{"resource":`+o("Patient/123")+`,"request":{"method":"PUT","url":"Observation?patient=456"}}`),
		"conditional delete other":    bundleOf("transaction", `{"request":{"method":"DELETE","url":"Observation?patient=456"}}`),
		"delete other patient":        bundleOf("transaction", `{"request":{"method":"DELETE","url":"Patient/456"}}`),
		"ifNoneExist other":           bundleOf("transaction", `{"resource":`+o("Patient/123")+`,"request":{"method":"POST","url":"Observation","ifNoneExist":"patient=456"}}`),
		"patch in bundle":             bundleOf("transaction", `{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W10="},"request":{"method":"PATCH","url":"Observation/1"}}`),
		"nested bundle":               bundleOf("batch", `{"resource":`+bundleOf("batch", `{"request":{"method":"GET","url":"Patient/456"}}`)+`,"request":{"method":"POST","url":""}}`),
		"nested bundle by type":       bundleOf("batch", `{"resource":`+bundleOf("batch")+`,"request":{"method":"POST","url":"Bundle"}}`),
		"post search in bundle":       bundleOf("batch", `{"resource":{"resourceType":"Parameters"},"request":{"method":"POST","url":"Observation/_search?patient=123"}}`),
		"everything other":            bundleOf("batch", `{"request":{"method":"GET","url":"Patient/456/$everything"}}`),
		"request twice":               bundleOf("batch", `{"request":{"method":"GET","url":"Patient/123"},"request":{"method":"GET","url":"Patient/456"}}`),
		"Request beside request":      bundleOf("batch", `{"request":{"method":"GET","url":"Patient/123"},"Request":{"method":"GET","url":"Patient/456"}}`),
		"Method beside method":        bundleOf("batch", `{"request":{"method":"GET","Method":"DELETE","url":"Patient/123"}}`),
		"IfNoneExist alone":           bundleOf("transaction", `{"resource":`+o("Patient/123")+`,"request":{"method":"POST","url":"Observation","IfNoneExist":"patient=456"}}`),
		"fullUrl twice":               bundleOf("batch", `{"fullUrl":"a","fullUrl":"b","request":{"method":"GET","url":"Patient/123"}}`),
		"ifMatch not a string":        bundleOf("transaction", `{"resource":{"resourceType":"Patient","id":"123"},"request":{"method":"PUT","url":"Patient/123","ifMatch":3}}`),
		"type twice":                  `{"resourceType":"Bundle","type":"batch","type":"transaction","entry":[{"request":{"method":"GET","url":"Patient/456"}}]}`,
		"entry twice":                 `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/123"}}],"entry":[{"request":{"method":"GET","url":"Patient/456"}}]}`,
		"not a bundle":                `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`,
		"searchset":                   bundleOf("searchset", `{"request":{"method":"GET","url":"Patient/456"}}`),
		"history system in bundle":    bundleOf("batch", `{"request":{"method":"GET","url":"_history"}}`),
		"system search in bundle":     bundleOf("batch", `{"request":{"method":"GET","url":"?_type=Observation"}}`),
		"compartment other in bundle": bundleOf("batch", `{"request":{"method":"GET","url":"Patient/456/Observation"}}`),
		"trailing garbage":            bundleOf("batch", `{"request":{"method":"GET","url":"Patient/123"}}`) + `{"x":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient patient/*.cruds", "POST", "", body, map[string]string{"Content-Type": "application/fhir+json"})
		})
	}
}

func TestRefusesSearchBodyAndHeaderTricks(t *testing.T) {
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for name, tc := range map[string]struct {
		method, target, body string
		hdr                  map[string]string
	}{
		"form other patient":         {"POST", "Observation/_search", "patient=456", form},
		"form OR list":               {"POST", "Observation/_search", "patient=123%2C456", form},
		"form json content":          {"POST", "Observation/_search", "patient=123", map[string]string{"Content-Type": "application/json"}},
		"form no content type":       {"POST", "Observation/_search", "patient=123", nil},
		"form multipart":             {"POST", "Observation/_search", "patient=123", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}},
		"form semicolon":             {"POST", "Observation/_search", "code=x;patient=123", form},
		"form _method":               {"POST", "Observation/_search?patient=123", "_method=DELETE", form},
		"form bad escape":            {"POST", "Observation/_search", "patient=123&x=%zz", form},
		"form on system _search":     {"POST", "_search", "_type=Observation&patient=123", form},
		"compartment post other":     {"POST", "Patient/456/Observation/_search", "", form},
		"if-none-exist other":        {"POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, map[string]string{"If-None-Exist": "patient=456"}},
		"if-none-exist unrestricted": {"POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, map[string]string{"If-None-Exist": "code=x"}},
		"if-none-exist semicolon":    {"POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, map[string]string{"If-None-Exist": "patient=123;patient=456"}},
		"method override header":     {"POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, map[string]string{"X-HTTP-Method-Override": "GET"}},
		"X-Method-Override":          {"GET", "Observation?patient=123", "", map[string]string{"X-Method-Override": "DELETE"}},
		"OPTIONS":                    {"OPTIONS", "Patient/123", "", nil},
		"unknown method":             {"PROPFIND", "Patient/123", "", nil},
		"lower-case get":             {"get", "Patient/123", "", nil},
		"conditional update other":   {"PUT", "Observation?patient=456", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, nil},
		"conditional delete other":   {"DELETE", "Observation?patient=456", "", nil},
		"conditional delete Patient": {"DELETE", "Patient?_id=456", "", nil},
		"conditional patch other":    {"PATCH", "Observation?patient=456", `[]`, nil},
		"update Patient other":       {"PUT", "Patient/456", `{"resourceType":"Patient","id":"456"}`, nil},
		"delete Patient other":       {"DELETE", "Patient/456", "", nil},
		"create Patient":             {"POST", "Patient", `{"resourceType":"Patient","id":"123"}`, nil},
		"conditional update Patient": {"PUT", "Patient?_id=123", `{"resourceType":"Patient","id":"456"}`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient patient/*.cruds", tc.method, tc.target, tc.body, tc.hdr)
		})
	}
}

func TestRefusesScopeMixingAndGranularTricks(t *testing.T) {
	cat := "http://terminology.hl7.org/CodeSystem/observation-category"
	for name, tc := range map[string]struct{ scopes, method, target, body string }{
		"user read + patient create for other": {"user/Observation.rs patient/Observation.c", "POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/456"}}`},
		"user Practitioner + patient search":   {"user/Practitioner.rs patient/Observation.rs", "GET", "Observation?patient=456", ""},
		"system other type + patient search":   {"system/Practitioner.rs patient/*.rs", "GET", "Observation?patient=456", ""},
		"patient wildcard no context":          {"patient/*.rs", "GET", "Observation?patient=456", ""},
		"granular compartment *":               {"patient/Observation.rs?category=" + cat + "|laboratory", "GET", "Patient/123/*", ""},
		"granular _type":                       {"patient/Observation.rs?category=" + cat + "|laboratory", "GET", "Patient/123/*?_type=Observation", ""},
		"granular everything":                  {"patient/*.rs?category=" + cat + "|laboratory", "GET", "Patient/123/$everything", ""},
		"granular history type":                {"patient/Observation.rs?category=" + cat + "|laboratory", "GET", "Observation/_history", ""},
		"granular create other category":       {"patient/Observation.c?category=" + cat + "|laboratory", "POST", "Observation", obs("Patient/123", "social-history")},
		"granular create other system":         {"patient/Observation.c?category=" + cat + "|laboratory", "POST", "Observation", strings.Replace(obs("Patient/123", "laboratory"), cat, "http://other", 1)},
		"granular create no category":          {"patient/Observation.c?category=" + cat + "|laboratory", "POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`},
		"read scope cannot search":             {"patient/Observation.r", "GET", "Observation?patient=123", ""},
		"search scope cannot read":             {"patient/Observation.s", "GET", "Observation/1", ""},
		"write never reads":                    {"patient/Observation.cud", "GET", "Observation/1", ""},
		"Patient.rs other _id":                 {"patient/Patient.rs", "GET", "Patient?_id=456", ""},
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient "+tc.scopes, tc.method, tc.target, tc.body, nil)
		})
	}
}

// TestNarrowsWhatTheTricksLeaveOpen: searches that do not limit
// themselves to the patient or to the granular constraint, in ways once
// refused (chains, modifiers, identifiers, ORed or escaped categories),
// are answered narrowed: the restriction is ANDed to the query as it came,
// whatever else it says, so that a server applying it returns nothing
// else (and the guard checks what it returns). With RefuseBroadSearches
// they are refused.
func TestNarrowsWhatTheTricksLeaveOpen(t *testing.T) {
	const cat = "http://terminology.hl7.org/CodeSystem/observation-category"
	const labAdded = "category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory"
	granular := "patient/Observation.rs?category=" + cat + "|laboratory"
	for _, tc := range []struct {
		scopes, method, target, body string
		added                        string
	}{
		{"patient/*.rs", "GET", "Encounter/9/Observation", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?patient:missing=true", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?patient:missing=false&patient:missing=true", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?patient.identifier=x", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?subject:Patient.name=x", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?subject:Patient.name=123", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?patient:identifier=123", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?patient:text=123", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?patient:above=123", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?patient:below=Patient/123", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?Patient=123", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Observation?encounter.patient=123", "", "patient=Patient%2F123"},
		{"patient/*.rs", "GET", "Patient?identifier=123", "", "_id=123"},
		{"patient/*.rs", "GET", "Patient?link=Patient/123", "", "_id=123"},
		{"patient/*.rs", "GET", "Group?characteristic=x", "", "member=Patient%2F123"},
		{"patient/*.cruds", "PUT", "Observation?code=x", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, "patient=Patient%2F123"},
		{"patient/*.cruds", "DELETE", "Observation?code=x", "", "patient=Patient%2F123"},
		{"patient/Patient.rs", "GET", "Patient?identifier=x", "", "_id=123"},
		{granular, "GET", "Observation?patient=123&category=" + cat + "|laboratory," + cat + "|social-history", "", labAdded},
		{granular, "GET", "Observation?patient=123&category:not=" + cat + "|laboratory", "", labAdded},
		{granular, "GET", "Observation?patient=123&category:text=laboratory", "", labAdded},
		{granular, "GET", "Observation?patient=123&category=http://other|laboratory", "", labAdded},
		{granular, "GET", "Observation?patient=123&category=laboratory", "", labAdded},
		{granular, "GET", "Observation?patient=123&category:missing=true", "", labAdded},
		{granular, "GET", "Observation?patient=123&category=" + cat + "%7Claboratory%2Csocial-history", "", labAdded},
		{granular, "GET", "Observation?code=x", "", labAdded + "&patient=Patient%2F123"},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(tc.method, base+"/"+tc.target, body)
			d, err := newAuthorizer(t, smartmw.Config{}).Decide(context.Background(), grant("launch/patient "+tc.scopes, "123"), r)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			want := tc.added
			if r.URL.RawQuery != "" {
				want = r.URL.RawQuery + "&" + tc.added
			}
			if q := d.Request().Query; q != want || !d.Request().Rewritten || d.Limits().Patient != "123" {
				t.Errorf("query %q (rewritten %v, patient %q), want %q", q, d.Request().Rewritten, d.Limits().Patient, want)
			}
			refused(t, smartmw.Config{FHIR: smartmw.FHIROptions{RefuseBroadSearches: true}}, "launch/patient "+tc.scopes, tc.method, tc.target, tc.body, nil)
		})
	}
}

// guardedWith runs target for Patient/123 through Handler and handler h.
func guardedWith(t *testing.T, scopes, method, target string, h http.HandlerFunc) *httptest.ResponseRecorder {
	t.Helper()
	a := newAuthorizer(t, smartmw.Config{})
	r := httptest.NewRequest(method, base+"/"+target, nil)
	r = r.WithContext(smartctx.NewContext(r.Context(), grant(scopes, "123")))
	w := httptest.NewRecorder()
	a.Authorize(h).ServeHTTP(w, r)
	return w
}

func TestRefusesGuardWriterTricks(t *testing.T) {
	o456 := observation("x", "456", labCategory)
	for name, h := range map[string]http.HandlerFunc{
		"Flush before the body is checked": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			if f, ok := w.(http.Flusher); ok {
				w.Write([]byte(o456))
				f.Flush()
				return
			}
			http.NewResponseController(w).Flush()
			w.Write([]byte(o456))
		},
		"WriteHeader twice": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			w.WriteHeader(200)
			w.Write([]byte(o456))
		},
		"1xx then 200": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(103)
			w.Write([]byte(o456))
		},
		"headers after the body": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(o456))
			w.Header().Set("Content-Type", "text/plain")
		},
		"no Content-Type": func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			w.Write([]byte(o456))
		},
		"resource with an error status": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(409)
			w.Write([]byte(o456))
		},
		"201": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			w.Write([]byte(o456))
		},
		"Content-Encoding identity with gzip claim": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte(o456))
		},
		"two JSON values": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(observation("x", "123", labCategory) + o456))
		},
		"JSON in pieces": func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(o456); i += 7 {
				w.Write([]byte(o456[i:min(i+7, len(o456))]))
			}
		},
		"Hijack": func(w http.ResponseWriter, r *http.Request) {
			if hj, ok := w.(http.Hijacker); ok {
				c, _, err := hj.Hijack()
				if err == nil {
					c.Write([]byte(o456))
					c.Close()
				}
				return
			}
			http.NewResponseController(w).Hijack()
			w.Write([]byte(o456))
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := guardedWith(t, "launch/patient patient/Observation.rs", "GET", "Observation/x", h)
			if leaks(w.Body.Bytes()) {
				t.Fatalf("leaked (%d): %s", w.Code, w.Body)
			}
		})
	}
}

// A vread of an old version that belonged to another patient, and a
// history whose versions moved between patients.
func TestRefusesOldVersionsOfAnotherPatient(t *testing.T) {
	o456 := observation("x", "456", labCategory)
	w := guarded(t, smartmw.Config{}, "launch/patient patient/Observation.rs", "Observation/x/_history/1", o456)
	if w.Code == 200 {
		t.Fatalf("vread leaked: %s", w.Body)
	}
	w = guarded(t, smartmw.Config{}, "launch/patient patient/Observation.rs", "Observation/x/_history",
		`{"resourceType":"Bundle","type":"history","entry":[{"resource":`+observation("x", "123", labCategory)+`},{"resource":`+o456+`},{"request":{"method":"DELETE","url":"Observation/x"}}]}`)
	if w.Code == 200 && leaks(w.Body.Bytes()) {
		t.Fatalf("history leaked: %s", w.Body)
	}
	// Under a granular scope, a version outside the category.
	w = guarded(t, smartmw.Config{}, "launch/patient "+labScope, "Observation/x/_history/1", observation("x", "123", vitalCategory))
	if w.Code == 200 {
		t.Fatalf("granular vread leaked: %s", w.Body)
	}
}

// Error answers without a resource still reach the client as they are.
func TestGuardPassesErrorsThrough(t *testing.T) {
	oo := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`
	for _, body := range []string{oo, "<html>not found</html>", ""} {
		w := guardedWith(t, "launch/patient patient/Observation.rs", "GET", "Observation/x", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			w.Write([]byte(body))
		})
		if w.Code != 404 || w.Body.String() != body {
			t.Errorf("%q: %d %s", body, w.Code, w.Body)
		}
	}
}

// With _contained=true the patient parameter selects contained resources
// and the server may return their containers: another patient's
// Observation holding a contained one that names Patient/123.
func TestRefusesContainedSearches(t *testing.T) {
	for _, target := range []string{
		"Observation?patient=123&_contained=true",
		"Observation?patient=123&_contained=both",
		"Observation?patient=123&_contained=true&_containedType=container",
		"Observation?patient=123&_containedType=contained",
		"Patient/123/Observation?_contained=true",
	} {
		refused(t, smartmw.Config{}, "launch/patient patient/*.rs", "GET", target, "", nil)
		refused(t, smartmw.Config{}, "user/Observation.rs?category="+lab, "GET", target+"&category="+lab, "", nil)
	}
	a := newAuthorizer(t, smartmw.Config{})
	r := httptest.NewRequest("GET", base+"/Observation?patient=123&_contained=false", nil)
	if _, err := a.Decide(context.Background(), grant("patient/Observation.rs", "123"), r); err != nil {
		t.Fatalf("_contained=false refused: %v", err)
	}
}

// The body scanner looks at the compartment elements only: a
// "reference" to Patient/123 anywhere else proves nothing.
func TestRefusesMembershipClaimedOutsideTheCompartmentElements(t *testing.T) {
	for name, body := range map[string]string{
		"extension":         `{"resourceType":"Observation","subject":{"reference":"Patient/456"},"extension":[{"url":"x","valueReference":{"reference":"Patient/123"}}]}`,
		"note text":         `{"resourceType":"Observation","subject":{"reference":"Patient/456"},"note":[{"text":"\"reference\": \"Patient/123\""}]}`,
		"contained":         `{"resourceType":"Observation","subject":{"reference":"#p"},"contained":[{"resourceType":"Observation","id":"p","subject":{"reference":"Patient/123"}}]}`,
		"escaped other":     `{"resourceType":"Observation","subject":{"reference":"Patient\/456"},"performer":[{"reference":"Patient/123"}]}`,
		"unicode escape":    `{"resourceType":"Observation","subject":{"reference":"\u0050atient/456"},"performer":[{"reference":"Patient/123"}]}`,
		"number":            `{"resourceType":"Observation","subject":{"reference":123}}`,
		"identifier only":   `{"resourceType":"Observation","subject":{"identifier":{"value":"123"}}}`,
		"display only":      `{"resourceType":"Observation","subject":{"display":"Patient/123"}}`,
		"type in reference": `{"resourceType":"Observation","subject":{"reference":"456","type":"Patient"},"performer":[{"reference":"Patient/123"}]}`,
		"nested too deep":   `{"resourceType":"Observation","subject":` + strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300) + `}`,
		"basedOn":           `{"resourceType":"Observation","subject":{"reference":"Patient/456"},"basedOn":[{"reference":"Patient/123"}]}`,
		"urn:uuid subject":  `{"resourceType":"Observation","subject":{"reference":"urn:uuid:0f3c"},"performer":[{"reference":"Patient/123"}]}`,
		"unknown type":      `{"resourceType":"Observation","subject":{"reference":"Patients/456"},"performer":[{"reference":"Patient/123"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, smartmw.Config{}, "launch/patient patient/Observation.c", "POST", "Observation", body, nil)
		})
	}
}

// Reverse chaining looks at other resources than the ones returned: on a
// type outside the compartment, which patient/ scopes reach without a
// patient limit, it tells what another patient has.
func TestRefusesReverseChaining(t *testing.T) {
	for _, tc := range []struct{ scopes, target string }{
		{"patient/Medication.rs", "Medication?_has:MedicationRequest:medication:subject=Patient/456"},
		{"patient/Organization.rs", "Organization?_has:Patient:organization:name=Smith"},
		{"patient/Practitioner.rs", "Practitioner?_has:Encounter:practitioner:patient=456"},
		{"patient/*.rs", "Observation?patient=123&_has:Observation:derived-from:subject=Patient/456"},
		{"patient/*.rs", "Patient?_id=123&_has:Observation:patient:code=x"},
		{"patient/*.rs", "Patient/123/Observation?_has:Observation:has-member:subject=Patient/456"},
		{"user/Observation.rs?category=" + lab, "Observation?category=" + lab + "&_has:Observation:has-member:category=x"},
	} {
		refused(t, smartmw.Config{FHIR: smartmw.FHIROptions{NonCompartment: smartmw.NonCompartmentNamed}}, "launch/patient "+tc.scopes, "GET", tc.target, "", nil)
		refused(t, smartmw.Config{}, "launch/patient "+tc.scopes, "POST", strings.Replace(tc.target, "?", "/_search?", 1), "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	}
}

// A batch's own decision has no context, type or patient: only its
// entries' have. A handler answering a batch with something else than a
// batch-response must not be checked against that empty decision.
func TestRefusesBatchAnsweredWithAnotherShape(t *testing.T) {
	o456 := observation("x", "456", labCategory)
	batch := bundleOf("batch", `{"request":{"method":"GET","url":"Observation/x"}}`)
	for name, resp := range map[string]string{
		"a bare resource":             o456,
		"a searchset":                 `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + o456 + `}]}`,
		"a collection":                `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + o456 + `}]}`,
		"a batch-response":            `{"resourceType":"Bundle","type":"batch-response","entry":[{"resource":` + o456 + `,"response":{"status":"200"}}]}`,
		"a batch-response with extra": `{"resourceType":"Bundle","type":"batch-response","entry":[{"resource":{"resourceType":"OperationOutcome"}},{"resource":` + o456 + `}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			a := newAuthorizer(t, smartmw.Config{})
			h := a.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(resp)) }))
			r := httptest.NewRequest("POST", base, strings.NewReader(batch))
			r = r.WithContext(smartctx.NewContext(r.Context(), grant("launch/patient patient/*.rs", "123")))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if leaks(w.Body.Bytes()) {
				t.Fatalf("leaked (%d): %s", w.Code, w.Body)
			}
		})
	}
}

// Formats and encodings the guard cannot read are refused, not passed.
func TestRefusesUnreadableResponsesOfRestrictedReads(t *testing.T) {
	xml := `<Observation xmlns="http://hl7.org/fhir"><subject><reference value="Patient/456"/></subject></Observation>`
	for name, h := range map[string]http.HandlerFunc{
		"XML": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+xml")
			w.Write([]byte(xml))
		},
		"JSON with a BOM": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("\ufeff" + observation("x", "456", labCategory)))
		},
		"JSONP-like": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("cb(" + observation("x", "456", labCategory) + ")"))
		},
		"not a resource": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"subject":{"reference":"Patient/456"}}`))
		},
		"array": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`[` + observation("x", "456", labCategory) + `]`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := guardedWith(t, "launch/patient patient/Observation.rs", "GET", "Observation/x?_format=xml", h)
			if w.Code < 300 || leaks(w.Body.Bytes()) {
				t.Fatalf("passed (%d): %s", w.Code, w.Body)
			}
		})
	}
}

// fakeStore answers GET of Observation/x with stored and records every
// other request it sees.
type fakeStore struct {
	stored string
	status int
	writes []*http.Request
}

func (f *fakeStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "GET" {
		w.Header().Set("ETag", `W/"7"`)
		if f.status != 0 {
			w.WriteHeader(f.status)
		}
		w.Write([]byte(f.stored))
		return
	}
	f.writes = append(f.writes, r)
	w.WriteHeader(http.StatusNoContent)
}

// An update, patch or delete by id replaces or changes a stored resource
// the request does not show: in front of a FHIR server that knows nothing
// of SMART, a patient app could overwrite or delete another patient's
// Observation by its id.
func TestRefusesWritesByIDToAnotherPatientsResource(t *testing.T) {
	writes := []struct{ method, body string }{
		{"DELETE", ""},
		{"PUT", `{"resourceType":"Observation","id":"x","subject":{"reference":"Patient/123"}}`},
		{"PATCH", `[{"op":"replace","path":"/status","value":"entered-in-error"}]`},
	}
	run := func(t *testing.T, scopes string, f *fakeStore, method, body string) *httptest.ResponseRecorder {
		a := newAuthorizer(t, smartmw.Config{})
		r := httptest.NewRequest(method, base+"/Observation/x", strings.NewReader(body))
		r = r.WithContext(smartctx.NewContext(r.Context(), grant(scopes, "123")))
		w := httptest.NewRecorder()
		a.Authorize(f).ServeHTTP(w, r)
		return w
	}
	for _, wr := range writes {
		t.Run(wr.method, func(t *testing.T) {
			f := &fakeStore{stored: observation("x", "456", labCategory)}
			if w := run(t, "launch/patient patient/Observation.cud", f, wr.method, wr.body); w.Code != 403 || len(f.writes) != 0 {
				t.Fatalf("another patient's resource: %d, %d writes reached the server", w.Code, len(f.writes))
			}
			f = &fakeStore{stored: observation("x", "123", vitalCategory)}
			if w := run(t, "launch/patient patient/Observation.cud?category="+lab, f, wr.method, wr.body); w.Code != 403 || len(f.writes) != 0 {
				t.Fatalf("outside the granular scope: %d, %d writes reached the server", w.Code, len(f.writes))
			}
			f = &fakeStore{stored: `<Observation/>`}
			if w := run(t, "launch/patient patient/Observation.cud", f, wr.method, wr.body); w.Code < 400 || len(f.writes) != 0 {
				t.Fatalf("unreadable stored resource: %d, %d writes reached the server", w.Code, len(f.writes))
			}
			// The patient's own resource: the write goes ahead, tied to
			// the version read.
			f = &fakeStore{stored: observation("x", "123", labCategory)}
			if w := run(t, "launch/patient patient/Observation.cud", f, wr.method, wr.body); w.Code != 204 || len(f.writes) != 1 || f.writes[0].Header.Get("If-Match") != `W/"7"` {
				t.Fatalf("own resource: %d, %d writes", w.Code, len(f.writes))
			}
			// Nothing stored: an update creates, a delete finds nothing.
			f = &fakeStore{stored: `{"resourceType":"OperationOutcome"}`, status: 404}
			if w := run(t, "launch/patient patient/Observation.cud", f, wr.method, wr.body); w.Code != 204 || len(f.writes) != 1 {
				t.Fatalf("nothing stored: %d, %d writes", w.Code, len(f.writes))
			}
		})
	}
}

// The same through a transaction: DELETE Observation/x as a bundle entry.
func TestRefusesBundledWritesByIDToAnotherPatientsResource(t *testing.T) {
	for _, entry := range []string{
		`{"request":{"method":"DELETE","url":"Observation/x"}}`,
		`{"resource":{"resourceType":"Observation","id":"x","subject":{"reference":"Patient/123"}},"request":{"method":"PUT","url":"Observation/x"}}`,
	} {
		var seen []string
		f := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.Method+" "+r.URL.Path)
			if r.Method == "GET" && r.URL.Path == "/fhir/Observation/x" {
				w.Write([]byte(observation("x", "456", labCategory)))
				return
			}
			w.Write([]byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"204"}}]}`))
		})
		a := newAuthorizer(t, smartmw.Config{})
		r := httptest.NewRequest("POST", base, strings.NewReader(bundleOf("transaction", entry)))
		r = r.WithContext(smartctx.NewContext(r.Context(), grant("launch/patient patient/Observation.cud", "123")))
		w := httptest.NewRecorder()
		a.Authorize(f).ServeHTTP(w, r)
		if w.Code != 403 || len(seen) != 1 || seen[0] != "GET /fhir/Observation/x" {
			t.Fatalf("%s: %d, handler saw %v", entry, w.Code, seen)
		}
	}
}
