package engine

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

const lab = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"

// precheckCases are grants and searches whose answers the guard checks
// entry by entry.
var precheckCases = []struct{ scopes, target string }{
	{"patient/Observation.rs", "/fhir/Observation?patient=123"},
	{"patient/Observation.rs?category=" + lab, "/fhir/Observation?patient=123&category=" + url.QueryEscape(lab)},
	{"patient/Observation.rs?category=" + lab + " patient/Observation.rs?status=final", "/fhir/Observation?patient=123"},
	{"patient/Observation.rs patient/Patient.r", "/fhir/Observation?patient=123&_include=Observation:subject"},
	{"patient/Observation.rs?category=" + lab + " patient/Patient.r?gender=female", "/fhir/Observation?patient=123&category=" + url.QueryEscape(lab) + "&_include=Observation:subject"},
	{"patient/*.rs", "/fhir/Encounter?patient=123&_revinclude=Observation:encounter"},
	{"patient/Device.rs patient/Observation.rs", "/fhir/Device?patient=123&_revinclude=Observation:device"},
	{"patient/Medication.rs patient/MedicationRequest.rs", "/fhir/MedicationRequest?patient=123&_include=MedicationRequest:medication"},
	{"user/Observation.rs?category=" + lab, "/fhir/Observation?category=" + url.QueryEscape(lab)},
}

// precheckResources are entries' resources, of this patient and others,
// well and badly formed.
var precheckResources = []string{
	`{"resourceType":"Observation","id":"1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"subject":{"reference":"Patient/123"}}`,
	`{"resourceType":"Observation","id":"2","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"subject":{"reference":"Patient/123"}}`,
	`{"resourceType":"Observation","id":"3","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"subject":{"reference":"Patient/456"}}`,
	`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"Patient/456"}],"status":"final"}`,
	`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"contained":[{"resourceType":"Condition","subject":{"reference":"Patient/456"}}]}`,
	`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"Subject":{"reference":"Patient/456"}}`,
	`{"status":"final","resourceType":"Observation","subject":{"reference":"Patient/123"}}`,
	`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"cat\u0065gory":[]}`,
	`{"resourceType":"Observ\u0061tion","subject":{"reference":"Patient/123"}}`,
	`{"resourceType":"Patient","id":"123","gender":"female"}`,
	`{"resourceType":"Patient","id":"456"}`,
	`{"resourceType":"Encounter","id":"e1","subject":{"reference":"Patient/123"}}`,
	`{"resourceType":"Device","patient":{"reference":"Patient/123"}}`,
	`{"resourceType":"Device","patient":{"reference":"Patient/456"}}`,
	`{"resourceType":"Medication","id":"m1"}`,
	`{"resourceType":"MedicationRequest","subject":{"reference":"Patient/123"}}`,
	`{"resourceType":"OperationOutcome","issue":[]}`,
	// Members in the order of encoding/json writing a map: resourceType
	// after others.
	`{"category":[{"coding":[{"code":"laboratory","system":"http://terminology.hl7.org/CodeSystem/observation-category"}]}],"id":"4","performer":[{"reference":"Practitioner/1"}],"resourceType":"Observation","status":"final","subject":{"reference":"Patient/123"}}`,
	`{"category":[{"coding":[{"code":"laboratory","system":"http://terminology.hl7.org/CodeSystem/observation-category"}]}],"id":"5","resourceType":"Observation","subject":{"reference":"Patient/456"}}`,
	`{"id":"6","resourceType":"Observation","subject":{"reference":"Patient/123"},"Subject":{"reference":"Patient/456"}}`,
	`{"id":"7","resourceType":"Obs\u0065rvation","subject":{"reference":"Patient/123"}}`,
	`{"id":"8","resourceType":"Observation","resourceType":"Observation","subject":{"reference":"Patient/123"}}`,
	`{"id":"9","subject":{"reference":"Patient/123"}}`,
	`{"gender":"female","id":"123","resourceType":"Patient"}`,
	`{"patient":{"reference":"Patient/123"},"resourceType":"Device"}`,
}

// checkPrecheck checks that the guard's answer for each entry of body,
// read with the respCheck the scan fed, is the one rule's answer read from
// the resource's bytes alone.
// It returns the number of entries read as scanned for the compartment,
// and for granular scopes.
func checkPrecheck(t *testing.T, a *Engine, gr *smartctx.Grant, d *decision, body []byte) (cmp, granular int) {
	t.Helper()
	st := &guardState{}
	if _, err := a.checkResponse(gr, d, body, st); err == errResponseUnchecked {
		return 0, 0
	}
	b, err := st.res.Bundle()
	if err != nil {
		return 0, 0
	}
	for i, e := range b.Entries {
		if f := (&entryAt{&st.rc, i}).facts(); f != nil {
			if f.cmp {
				cmp++
			}
			if f.rule != nil {
				granular++
			}
		}
		res := e.Resource.Of(body)
		for _, included := range []bool{false, true} {
			fast := a.permitted(gr, d, e.ResourceType, res, included, &entryAt{&st.rc, i})
			slow := a.permitted(gr, d, e.ResourceType, res, included, nil)
			if fast != slow {
				t.Fatalf("entry %d (included %v) of %s under %v: permitted = %v as scanned, %v from its bytes",
					i, included, body, gr.Scopes(), fast, slow)
			}
		}
	}
	return cmp, granular
}

func precheckDecision(t testing.TB, a *Engine, scopes, target string) (*smartctx.Grant, *decision) {
	gr := smartctx.NewGrant(smartctx.Claims{Scopes: scope.Parse("launch/patient " + scopes), Patient: "123",
		ExpiresAt: time.Now().Add(time.Hour)})
	d, err := a.decideHTTP(context.Background(), gr, httptest.NewRequest("GET", target, nil))
	if err != nil {
		t.Fatalf("%s %s: %v", scopes, target, err)
	}
	return gr, d
}

// mixedSearchset renders resources as the entries of a searchset, every
// third one an include.
func mixedSearchset(resources ...string) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","total":3,"entry":[`)
	for i, r := range resources {
		if i > 0 {
			b.WriteByte(',')
		}
		mode := "match"
		if i%3 == 2 {
			mode = "include"
		}
		b.WriteString(`{"resource":` + r + `,"search":{"mode":"` + mode + `"}}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func TestPrecheckAgreesWithTheOneRule(t *testing.T) {
	a := testEngine(t, nil)
	cmp, granular := 0, 0
	for _, c := range precheckCases {
		gr, d := precheckDecision(t, a, c.scopes, c.target)
		n, m := checkPrecheck(t, a, gr, d, mixedSearchset(precheckResources...))
		cmp, granular = cmp+n, granular+m
		for _, r := range precheckResources {
			n, m := checkPrecheck(t, a, gr, d, mixedSearchset(r, r, r))
			cmp, granular = cmp+n, granular+m
		}
	}
	// Not a vacuous pass: the scan read entries for both.
	if cmp < 50 || granular < 20 {
		t.Errorf("%d entries read as scanned for the compartment, %d for granular scopes", cmp, granular)
	}
}

// FuzzPrecheck checks that what the scan reads of a searchset's entries
// for the guard decides as the one rule does from each resource's bytes.
func FuzzPrecheck(f *testing.F) {
	for i, r := range precheckResources {
		f.Add(uint8(i), []byte(r))
	}
	a := testEngine(f, nil)
	type grantDecision struct {
		gr *smartctx.Grant
		d  *decision
	}
	var decided []grantDecision
	for _, c := range precheckCases {
		gr, d := precheckDecision(f, a, c.scopes, c.target)
		decided = append(decided, grantDecision{gr, d})
	}
	f.Fuzz(func(t *testing.T, which uint8, resource []byte) {
		gd := decided[int(which)%len(decided)]
		r := string(resource)
		checkPrecheck(t, a, gd.gr, gd.d, mixedSearchset(r, precheckResources[int(which)%len(precheckResources)], r))
	})
}
