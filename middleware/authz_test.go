package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

const (
	base = "https://ehr.example.org/fhir"
	lab  = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
	vit  = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
	soc  = "http://terminology.hl7.org/CodeSystem/observation-category|social-history"
)

// The categories as the Guard adds them to a query.
var (
	labQ = url.QueryEscape(lab)
	vitQ = url.QueryEscape(vit)
	socQ = url.QueryEscape(soc)
)

func obs(subject, category string) string {
	return `{"resourceType":"Observation","id":"o1","status":"final",` +
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"` + category + `"}]}],` +
		`"code":{"text":"x"},"subject":{"reference":"` + subject + `"}}`
}

func grant(scopes, patient string) *smartctx.Grant {
	return smartctx.NewGrant(smartctx.Claims{Subject: "u1", ClientID: "app", Scopes: scope.Parse(scopes), Patient: patient})
}

func newAuthorizer(t testing.TB, cfg smartmw.Config) *smartmw.Guard {
	t.Helper()
	if cfg.Base == "" {
		cfg.Base = base
	}
	a, err := newAuthz(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type decisionCase struct {
	name          string
	scopes        string
	patient       string
	method        string
	target        string // relative to the base; "?" query allowed
	body          string
	header        map[string]string
	cfg           smartmw.Config
	want          int // 200 allowed, else the status of the refusal
	wantContext   scope.Context
	wantPatient   string
	wantQuery     string // checked when not empty
	wantScope     string // checked when not empty (WWW-Authenticate scope); "-": none named
	wantConstrain bool
}

func (tc decisionCase) run(t *testing.T) {
	t.Helper()
	a := newAuthorizer(t, tc.cfg)
	method := tc.method
	if method == "" {
		method = "GET"
	}
	var body io.Reader
	if tc.body != "" {
		body = strings.NewReader(tc.body)
	}
	r := httptest.NewRequest(method, base+"/"+tc.target, body)
	if method == "POST" && strings.HasSuffix(strings.SplitN(tc.target, "?", 2)[0], "_search") {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range tc.header {
		r.Header.Set(k, v)
	}
	d, err := a.Decide(context.Background(), grant(tc.scopes, tc.patient), r)
	if tc.want == 200 {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if tc.wantContext != 0 && d.Limits().Context != tc.wantContext {
			t.Errorf("context = %v, want %v", d.Limits().Context, tc.wantContext)
		}
		if d.Limits().Patient != tc.wantPatient {
			t.Errorf("patient = %q, want %q", d.Limits().Patient, tc.wantPatient)
		}
		if tc.wantQuery != "" && d.Request().Query != tc.wantQuery {
			t.Errorf("query = %q, want %q", d.Request().Query, tc.wantQuery)
		}
		if (d.Limits().Constraints != nil) != tc.wantConstrain {
			t.Errorf("constraints = %v", d.Limits().Constraints)
		}
		if tc.body != "" {
			b, _ := io.ReadAll(r.Body)
			if string(b) != tc.body {
				t.Errorf("body not restored: %q", b)
			}
		}
		return
	}
	var e *smartmw.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error with status %d (decision %+v)", err, tc.want, d)
	}
	if e.Status != tc.want {
		t.Fatalf("status = %d (%v), want %d", e.Status, err, tc.want)
	}
	if tc.want == 403 && !errors.Is(err, smartmw.ErrInsufficientScope) {
		t.Errorf("403 is not ErrInsufficientScope: %v", err)
	}
	if want := strings.TrimPrefix(tc.wantScope, "-"); tc.wantScope != "" && e.Scope != want {
		t.Errorf("scope = %q, want %q", e.Scope, tc.wantScope)
	}
}

// refuseBroad refuses searches that lack the restriction their grant needs,
// instead of narrowing them.
var refuseBroad = smartmw.Config{FHIR: smartmw.FHIROptions{RefuseBroadSearches: true}}

// interactions of the matrix: how to ask for each, under each context.
var matrix = []struct {
	i      scope.Interaction
	method string
	target string // %s is the patient id
	body   string
	// patientOK: allowed under patient/ scopes with the right letter.
	patientOK bool
}{
	{scope.InteractionRead, "GET", "Observation/1", "", true},
	{scope.InteractionVRead, "GET", "Observation/1/_history/2", "", true},
	{scope.InteractionHistoryInstance, "GET", "Observation/1/_history", "", true},
	{scope.InteractionUpdate, "PUT", "Observation/o1", obs("Patient/%s", "laboratory"), true},
	{scope.InteractionPatch, "PATCH", "Observation/1", `[]`, true},
	{scope.InteractionDelete, "DELETE", "Observation/1", "", true},
	{scope.InteractionCreate, "POST", "Observation", obs("Patient/%s", "laboratory"), true},
	{scope.InteractionSearchType, "GET", "Observation?patient=%s", "", true},
	{scope.InteractionSearchType, "POST", "Observation/_search", "patient=Patient/%s", true},
	{scope.InteractionHistoryType, "GET", "Observation/_history", "", false},
	{scope.InteractionSearchSystem, "GET", "?_type=Observation", "", false},
	{scope.InteractionHistorySystem, "GET", "_history", "", false},
}

func matrixCases() []decisionCase {
	var out []decisionCase
	for _, m := range matrix {
		for _, c := range []scope.Context{scope.Patient, scope.User, scope.System} {
			for _, letter := range []scope.Permission{scope.Create, scope.Read, scope.Update, scope.Delete, scope.Search} {
				typ := "Observation"
				if m.i == scope.InteractionSearchSystem || m.i == scope.InteractionHistorySystem {
					typ = "*"
				}
				tc := decisionCase{
					name:   fmt.Sprintf("matrix/%s %s/%s.%s", m.i, c, typ, letter),
					scopes: fmt.Sprintf("%s/%s.%s", c, typ, letter),
					method: m.method, target: strings.ReplaceAll(m.target, "%s", "123"),
					want: 403, wantContext: c,
				}
				if m.body != "" {
					tc.body = strings.ReplaceAll(m.body, "%s", "123")
				}
				if c == scope.Patient {
					tc.patient = "123"
				}
				if letter == m.i.Permission() && (c != scope.Patient || m.patientOK) {
					tc.want = 200
					if c == scope.Patient {
						tc.wantPatient = "123"
					}
				}
				if tc.want == 403 && m.i == scope.InteractionRead || tc.want == 403 && m.i == scope.InteractionVRead ||
					tc.want == 403 && m.i == scope.InteractionHistoryInstance {
					tc.cfg.FHIR.NotFoundForDenied = letter == scope.Delete // half of them answer 404
					if tc.cfg.FHIR.NotFoundForDenied {
						tc.want = 404
					}
				}
				out = append(out, tc)
			}
		}
	}
	return out
}

var namedCases = []decisionCase{
	// Wildcards, unions, v1 and v2.
	{name: "wildcard type", scopes: "user/*.rs", target: "Condition/9", want: 200, wantContext: scope.User},
	{name: "wildcard future type", scopes: "user/*.r", target: "Medication/9", want: 200},
	{name: "union of letters", scopes: "user/Observation.r user/Observation.s", target: "Observation?code=x", want: 200},
	{name: "union of types", scopes: "patient/Condition.rs patient/AllergyIntolerance.rs", patient: "1", target: "AllergyIntolerance?patient=1", want: 200, wantPatient: "1"},
	{name: "union misses type", scopes: "patient/Condition.rs patient/AllergyIntolerance.rs", patient: "1", target: "Observation?patient=1", want: 403, wantScope: "patient/Observation.s"},
	{name: "v1 read", scopes: "patient/Observation.read", patient: "1", target: "Observation?subject=Patient/1", want: 200, wantPatient: "1"},
	{name: "v1 read no write", scopes: "patient/Observation.read", patient: "1", method: "DELETE", target: "Observation/2", want: 403, wantScope: "patient/Observation.d"},
	{name: "v1 write", scopes: "user/Observation.write", method: "DELETE", target: "Observation/2", want: 200},
	{name: "v1 write no read", scopes: "user/Observation.write", target: "Observation/2", want: 403, wantScope: "user/Observation.r"},
	{name: "v1 star", scopes: "patient/*.*", patient: "1", method: "DELETE", target: "Observation/2", want: 200, wantPatient: "1"},
	{name: "v1 and v2 mixed", scopes: "patient/Observation.read patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: obs("Patient/1", "laboratory"), want: 200, wantPatient: "1"},
	{name: "write never implies read", scopes: "user/Observation.cud", target: "Observation/1", want: 403},
	{name: "read never implies search", scopes: "patient/Patient.r", patient: "1", target: "Patient?_id=1", want: 403, wantScope: "patient/Patient.s"},
	{name: "no scopes", scopes: "openid fhirUser launch", target: "Observation/1", want: 403, wantScope: "user/Observation.r"},
	{name: "invalid scope grants nothing", scopes: "patient/Observation.sr", patient: "1", target: "Observation?patient=1", want: 403},
	{name: "percent-encoded slash grants nothing", scopes: "patient%2FObservation.rs", patient: "1", target: "Observation?patient=1", want: 403},

	// patient/ scopes without a patient.
	{name: "patient scope no patient read", scopes: "patient/*.rs", target: "Observation/1", want: 403},
	{name: "patient scope no patient search", scopes: "patient/Observation.rs", target: "Observation?patient=1", want: 403},
	{name: "patient scope no patient own", scopes: "patient/Patient.r", target: "Patient/1", want: 403},
	{name: "patient scope no patient user ok", scopes: "patient/*.rs user/Observation.r", target: "Observation/1", want: 200, wantContext: scope.User},

	// The patient's own Patient; other patients.
	{name: "own patient read", scopes: "patient/Patient.r", patient: "123", target: "Patient/123", want: 200, wantPatient: "123"},
	{name: "own patient vread", scopes: "patient/Patient.r", patient: "123", target: "Patient/123/_history/1", want: 200, wantPatient: "123"},
	{name: "other patient read", scopes: "patient/Patient.r", patient: "123", target: "Patient/456", want: 403},
	{name: "other patient read 404", scopes: "patient/Patient.r", patient: "123", target: "Patient/456", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{NotFoundForDenied: true}}, want: 404},
	{name: "other patient everything", scopes: "patient/*.rs", patient: "123", target: "Patient/456/$everything", want: 403},
	{name: "own patient update", scopes: "patient/Patient.u", patient: "123", method: "PUT", target: "Patient/123", body: `{"resourceType":"Patient","id":"123"}`, want: 200, wantPatient: "123"},
	{name: "own patient update body other id", scopes: "patient/Patient.u", patient: "123", method: "PUT", target: "Patient/123", body: `{"resourceType":"Patient","id":"456"}`, want: 400},
	{name: "patient create Patient", scopes: "patient/Patient.c", patient: "123", method: "POST", target: "Patient", body: `{"resourceType":"Patient"}`, want: 403},
	{name: "own patient search _id", scopes: "patient/Patient.rs", patient: "123", target: "Patient?_id=123", want: 200, wantPatient: "123"},
	{name: "patient search narrowed to _id", scopes: "patient/Patient.rs", patient: "123", target: "Patient?name=x", want: 200, wantPatient: "123", wantQuery: "name=x&_id=123"},
	{name: "patient search no _id refused with RefuseBroadSearches", scopes: "patient/Patient.rs", patient: "123", target: "Patient?name=x", cfg: refuseBroad, want: 403},
	{name: "patient search _id list", scopes: "patient/Patient.rs", patient: "123", target: "Patient?_id=123,456", want: 403},
	{name: "patient search rewritten", scopes: "patient/Patient.rs", patient: "123", target: "Patient?name=x", want: 200, wantPatient: "123", wantQuery: "name=x&_id=123"},
	{name: "patient compartment self Patient", scopes: "patient/*.rs", patient: "123", target: "Patient/123/Patient", want: 403},

	// Searches and the compartment.
	{name: "search patient bare", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=123", want: 200, wantPatient: "123"},
	{name: "search patient reference", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=Patient/123", want: 200, wantPatient: "123"},
	{name: "search subject reference", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject=Patient/123", want: 200, wantPatient: "123"},
	{name: "search subject escaped", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject=Patient%2F123", want: 200, wantPatient: "123"},
	{name: "search subject bare is ambiguous", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject=123", want: 403},
	{name: "search subject:Patient bare", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject:Patient=123", want: 200, wantPatient: "123"},
	{name: "search subject:Group", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject:Group=123", want: 403},
	{name: "search performer patient", scopes: "patient/Observation.rs", patient: "123", target: "Observation?performer=Patient/123", want: 200, wantPatient: "123"},
	{name: "search absolute URL", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject=" + base + "/Patient/123", want: 200, wantPatient: "123"},
	{name: "search absolute other server", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject=https://evil.example/fhir/Patient/123", want: 403},
	{name: "search other patient", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=456", want: 403, wantScope: "-"},
	{name: "search OR list", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=123,456", want: 403},
	{name: "search OR list same", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=123,Patient/123", want: 200, wantPatient: "123"},
	{name: "search second patient refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=123&patient=456", want: 403},
	{name: "search other patient first refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=456&patient=123", want: 403},
	{name: "search other patient in list refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=123,456", want: 403},
	{name: "search subject other patient refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject=Patient/456&patient=123", want: 403},
	{name: "search subject:Patient other refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject:Patient=456&patient=123", want: 403},
	{name: "search subject:Group refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject:Group=7&patient=123", want: 403},
	{name: "search performer other absolute refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?performer=https://ehr.example.org/fhir/Patient/456&patient=123", want: 403},
	{name: "search compartment other param refused", scopes: "patient/Observation.rs", patient: "123", target: "Patient/123/Observation?subject=Patient/456", want: 403},
	{name: "search patient _id other refused", scopes: "patient/Patient.rs", patient: "123", target: "Patient?_id=123&_id=456", want: 403},
	{name: "search own patient absolute ok", scopes: "patient/Observation.rs", patient: "123", target: "Observation?subject=https://ehr.example.org/fhir/Patient/123", want: 200, wantPatient: "123"},
	{name: "conditional delete second patient refused", scopes: "patient/Observation.rds", patient: "123", method: "DELETE", target: "Observation?patient=456&patient=123", want: 403},
	{name: "conditional update second patient refused", scopes: "patient/Observation.rus", patient: "123", method: "PUT", target: "Observation?patient=456&patient=123", body: `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, want: 403},
	{name: "summary count second patient refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=456&patient=123&_summary=count", want: 403},
	{name: "search id prefix", scopes: "patient/Observation.rs", patient: "12", target: "Observation?patient=123", want: 403},
	{name: "search chain narrowed", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient.name=x", want: 200, wantPatient: "123", wantQuery: "patient.name=x&patient=Patient%2F123"},
	{name: "search chain refused with RefuseBroadSearches", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient.name=x", cfg: refuseBroad, want: 403},
	{name: "search missing modifier narrowed", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient:missing=false", want: 200, wantPatient: "123", wantQuery: "patient:missing=false&patient=Patient%2F123"},
	{name: "search missing modifier refused with RefuseBroadSearches", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient:missing=false", cfg: refuseBroad, want: 403},
	{name: "search not modifier narrowed", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient:not=456", want: 200, wantPatient: "123", wantQuery: "patient:not=456&patient=Patient%2F123"},
	{name: "search not modifier refused with RefuseBroadSearches", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient:not=456", cfg: refuseBroad, want: 403},
	{name: "search empty value", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=", want: 403},
	{name: "search not naming the patient narrowed", scopes: "patient/Observation.rs", patient: "123", target: "Observation?code=x", want: 200, wantPatient: "123", wantQuery: "code=x&patient=Patient%2F123"},
	{name: "search no restriction refused with RefuseBroadSearches", scopes: "patient/Observation.rs", patient: "123", target: "Observation?code=x", cfg: refuseBroad, want: 403},
	{name: "search unrelated param named like compartment narrowed", scopes: "patient/Observation.rs", patient: "123", target: "Observation?encounter=Patient/123", want: 200, wantPatient: "123", wantQuery: "encounter=Patient/123&patient=Patient%2F123"},
	{name: "search unrelated param named like compartment refused with RefuseBroadSearches", scopes: "patient/Observation.rs", patient: "123", target: "Observation?encounter=Patient/123", cfg: refuseBroad, want: 403},
	{name: "search rewrite adds patient", scopes: "patient/Observation.rs", patient: "123", target: "Observation?code=x", want: 200, wantPatient: "123", wantQuery: "code=x&patient=Patient%2F123"},
	{name: "search rewrite other patient refused", scopes: "patient/Observation.rs", patient: "123", target: "Observation?patient=456", want: 403},
	{name: "search rewrite subject type", scopes: "patient/Account.rs", patient: "123", target: "Account", want: 200, wantPatient: "123", wantQuery: "patient=Patient%2F123"},
	{name: "search rewrite no patient param", scopes: "patient/Group.rs", patient: "123", target: "Group", want: 200, wantPatient: "123", wantQuery: "member=Patient%2F123"},
	{name: "search post form", scopes: "patient/Observation.rs", patient: "123", method: "POST", target: "Observation/_search", body: "patient=123&code=x", want: 200, wantPatient: "123"},
	{name: "search post form other", scopes: "patient/Observation.rs", patient: "123", method: "POST", target: "Observation/_search", body: "patient=456", want: 403},
	{name: "search post form in url", scopes: "patient/Observation.rs", patient: "123", method: "POST", target: "Observation/_search?patient=123", body: "code=x", want: 200, wantPatient: "123"},
	{name: "search user any patient", scopes: "user/Observation.rs", patient: "123", target: "Observation?patient=456", want: 200, wantContext: scope.User},
	{name: "search system", scopes: "system/Observation.rs", target: "Observation", want: 200, wantContext: scope.System},
	{name: "search system other type", scopes: "system/Observation.rs", target: "Condition", want: 403, wantScope: "system/Condition.s"},
	{name: "system search wildcard", scopes: "user/*.s", target: "?code=x", want: 200},
	{name: "system search _type", scopes: "user/Observation.s user/Condition.s", target: "?_type=Observation,Condition", want: 200},
	{name: "system search _type one missing", scopes: "user/Observation.s", target: "?_type=Observation,Condition", want: 403},
	{name: "system search _type unknown", scopes: "user/*.s", target: "?_type=Foo", want: 400},
	{name: "system search no _type typed scope", scopes: "user/Observation.s", target: "?code=x", want: 403},
	{name: "system search patient", scopes: "patient/*.rs", patient: "123", target: "?_type=Observation", want: 403},
	{name: "system search post", scopes: "user/*.s", method: "POST", target: "_search", body: "_type=Observation", want: 200},

	// Compartment searches.
	{name: "compartment own", scopes: "patient/Observation.rs", patient: "123", target: "Patient/123/Observation", want: 200, wantPatient: "123"},
	{name: "compartment own post", scopes: "patient/Observation.rs", patient: "123", method: "POST", target: "Patient/123/Observation/_search", want: 200, wantPatient: "123"},
	{name: "compartment other", scopes: "patient/Observation.rs", patient: "123", target: "Patient/456/Observation", want: 403},
	{name: "compartment other rewrite", scopes: "patient/Observation.rs", patient: "123", target: "Patient/456/Observation", want: 403},
	{name: "compartment all types", scopes: "patient/*.s", patient: "123", target: "Patient/123/*", want: 200, wantPatient: "123"},
	{name: "compartment all types typed scope", scopes: "patient/Observation.s", patient: "123", target: "Patient/123/*", want: 403},
	{name: "compartment all types _type", scopes: "patient/Observation.s", patient: "123", target: "Patient/123/*?_type=Observation", want: 200, wantPatient: "123"},
	{name: "compartment no letter", scopes: "patient/Observation.r", patient: "123", target: "Patient/123/Observation", want: 403},
	{name: "compartment encounter narrowed to the patient", scopes: "patient/Observation.rs", patient: "123", target: "Encounter/9/Observation", want: 200, wantPatient: "123", wantQuery: "patient=Patient%2F123"},
	{name: "compartment encounter unrestricted refused with RefuseBroadSearches", scopes: "patient/Observation.rs", patient: "123", target: "Encounter/9/Observation", cfg: refuseBroad, want: 403},
	{name: "compartment encounter restricted", scopes: "patient/Observation.rs", patient: "123", target: "Encounter/9/Observation?patient=123", want: 200, wantPatient: "123"},
	{name: "compartment user", scopes: "user/Observation.s", target: "Patient/456/Observation", want: 200},

	// History.
	{name: "type history non-compartment named", scopes: "patient/Medication.rs", patient: "1", target: "Medication/_history", want: 200, wantPatient: "1"},
	{name: "type history compartment patient", scopes: "patient/*.rs", patient: "1", target: "Observation/_history", want: 403},
	{name: "system history user", scopes: "user/*.s", target: "_history", want: 200},
	{name: "system history typed", scopes: "user/Observation.s", target: "_history", want: 403},

	// Conditional interactions.
	{name: "conditional create", scopes: "patient/Observation.cs", patient: "1", method: "POST", target: "Observation", body: obs("Patient/1", "laboratory"), header: map[string]string{"If-None-Exist": "patient=1&identifier=x"}, want: 200, wantPatient: "1"},
	{name: "conditional create no s", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: obs("Patient/1", "laboratory"), header: map[string]string{"If-None-Exist": "patient=1&identifier=x"}, want: 403},
	{name: "conditional create unrestricted", scopes: "patient/Observation.cs", patient: "1", method: "POST", target: "Observation", body: obs("Patient/1", "laboratory"), header: map[string]string{"If-None-Exist": "identifier=x"}, want: 403},
	{name: "conditional create unrestricted rewrite", scopes: "patient/Observation.cs", patient: "1", method: "POST", target: "Observation", body: obs("Patient/1", "laboratory"), header: map[string]string{"If-None-Exist": "identifier=x"}, want: 403},
	{name: "conditional update", scopes: "patient/Observation.us", patient: "1", method: "PUT", target: "Observation?patient=1&identifier=x", body: obs("Patient/1", "laboratory"), want: 200, wantPatient: "1"},
	{name: "conditional update no s", scopes: "patient/Observation.u", patient: "1", method: "PUT", target: "Observation?patient=1&identifier=x", body: obs("Patient/1", "laboratory"), want: 403, wantScope: "patient/Observation.s"},
	{name: "conditional update narrowed", scopes: "patient/Observation.us", patient: "1", method: "PUT", target: "Observation?identifier=x", body: obs("Patient/1", "laboratory"), want: 200, wantPatient: "1", wantQuery: "identifier=x&patient=Patient%2F1"},
	{name: "conditional update unrestricted refused with RefuseBroadSearches", scopes: "patient/Observation.us", patient: "1", method: "PUT", target: "Observation?identifier=x", body: obs("Patient/1", "laboratory"), cfg: refuseBroad, want: 403},
	{name: "conditional update body other", scopes: "patient/Observation.us", patient: "1", method: "PUT", target: "Observation?patient=1", body: obs("Patient/2", "laboratory"), want: 403},
	{name: "conditional delete", scopes: "user/Observation.ds", method: "DELETE", target: "Observation?identifier=x", want: 200},
	{name: "conditional delete patient rewrite", scopes: "patient/Observation.ds", patient: "1", method: "DELETE", target: "Observation?identifier=x", want: 200, wantPatient: "1", wantQuery: "identifier=x&patient=Patient%2F1"},
	{name: "conditional patch", scopes: "patient/Observation.us", patient: "1", method: "PATCH", target: "Observation?patient=1", body: "[]", want: 200, wantPatient: "1"},

	// Creates and updates: the body.
	{name: "create other patient", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: obs("Patient/2", "laboratory"), want: 403},
	{name: "create no subject", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: `{"resourceType":"Observation"}`, want: 403},
	{name: "create wrong type", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: `{"resourceType":"Condition","subject":{"reference":"Patient/1"}}`, want: 400},
	{name: "create bad json", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: `{"resourceType":"Observation",`, want: 400},
	{name: "create no body", scopes: "user/Observation.c", method: "POST", target: "Observation", want: 400},
	{name: "create user any patient", scopes: "user/Observation.c", patient: "1", method: "POST", target: "Observation", body: obs("Patient/2", "laboratory"), want: 200, wantContext: scope.User},
	{name: "update id mismatch", scopes: "user/Observation.u", method: "PUT", target: "Observation/zz", body: obs("Patient/2", "laboratory"), want: 400},
	{name: "update other patient", scopes: "patient/Observation.u", patient: "1", method: "PUT", target: "Observation/o1", body: obs("Patient/2", "laboratory"), want: 403},
	{name: "create duplicate subject", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation",
		body: `{"resourceType":"Observation","subject":{"reference":"Patient/1"},"subject":{"reference":"Patient/2"}}`, want: 400},
	{name: "create absolute subject under base", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: obs(base+"/Patient/1", "laboratory"), want: 200, wantPatient: "1"},
	{name: "create absolute subject elsewhere", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: obs("https://evil.example/fhir/Patient/1", "laboratory"), want: 403},
	{name: "create absolute subject under the audience served at another path", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "Observation", body: obs(base+"/Patient/1", "laboratory"), cfg: smartmw.Config{Issuer: smartmw.Issuer{Audience: base}, Base: "/fhir"}, want: 200, wantPatient: "1"},
	{name: "create allergy recorder", scopes: "patient/AllergyIntolerance.c", patient: "1", method: "POST", target: "AllergyIntolerance",
		body: `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/2"},"recorder":{"reference":"Patient/1"}}`, want: 403}, // in Patient/2's compartment too
	{name: "create allergy own recorder", scopes: "patient/AllergyIntolerance.c", patient: "1", method: "POST", target: "AllergyIntolerance",
		body: `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"recorder":{"reference":"Patient/1"}}`, want: 200, wantPatient: "1"},

	// Mixing contexts (fhir-works-on-aws #96): no widening across contexts.
	{name: "mix user other type does not widen patient", scopes: "user/Practitioner.rs patient/Observation.rs", patient: "1", target: "Observation?patient=2", want: 403},
	{name: "mix user and patient same type", scopes: "user/Observation.rs patient/Observation.rs", patient: "1", target: "Observation?patient=2", want: 200, wantContext: scope.User},
	{name: "mix prefers unrestricted", scopes: "user/Observation.rs patient/Observation.rs", patient: "1", target: "Observation/5", want: 200, wantContext: scope.User},
	{name: "mix patient letters not lent to user, narrowed under patient", scopes: "user/Observation.r patient/Observation.s", patient: "1", target: "Observation?code=x", want: 200, wantContext: scope.Patient, wantPatient: "1", wantQuery: "code=x&patient=Patient%2F1"},
	{name: "mix patient letters not lent to user refused with RefuseBroadSearches", scopes: "user/Observation.r patient/Observation.s", patient: "1", target: "Observation?code=x", cfg: refuseBroad, want: 403},
	{name: "mix user letters not lent to patient", scopes: "user/Observation.s patient/Observation.r", patient: "1", target: "Observation/3", want: 200, wantContext: scope.Patient, wantPatient: "1"},
	{name: "mix system and patient", scopes: "system/Patient.r patient/Observation.rs", patient: "1", target: "Patient/2", want: 200, wantContext: scope.System},

	// Non-compartment types.
	{name: "noncompartment named", scopes: "patient/Medication.rs", patient: "1", target: "Medication?code=x", want: 200, wantContext: scope.Patient, wantPatient: "1"},
	{name: "noncompartment named read", scopes: "patient/Practitioner.r", patient: "1", target: "Practitioner/9", want: 200, wantPatient: "1"},
	{name: "noncompartment wildcard default", scopes: "patient/*.rs", patient: "1", target: "Medication/9", want: 403},
	{name: "noncompartment wildcard allowed", scopes: "patient/*.rs", patient: "1", target: "Organization/9", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{NonCompartment: smartmw.NonCompartmentWildcard}}, want: 200, wantPatient: "1"},
	{name: "noncompartment deny", scopes: "patient/Location.rs", patient: "1", target: "Location/9", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{NonCompartment: smartmw.NonCompartmentDeny}}, want: 403},
	{name: "noncompartment deny user ok", scopes: "patient/Location.rs user/Location.r", patient: "1", target: "Location/9", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{NonCompartment: smartmw.NonCompartmentDeny}}, want: 200, wantContext: scope.User},
	{name: "noncompartment named and wildcard", scopes: "patient/*.cruds patient/Medication.r", patient: "1", method: "DELETE", target: "Medication/9", want: 403},

	// Granular scopes (HTI-1 style).
	{name: "granular read constrained", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation/5", want: 200, wantPatient: "1", wantConstrain: true},
	{name: "granular search with category", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1&category=" + lab, want: 200, wantPatient: "1", wantConstrain: true},
	{name: "granular search escaped category", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1&category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory", want: 200, wantPatient: "1", wantConstrain: true},
	{name: "granular search without category narrowed", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1", want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory"},
	{name: "granular search without category refused with RefuseBroadSearches", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1", cfg: refuseBroad, want: 403},
	{name: "granular search other category ANDed with the granted one", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1&category=" + vit, want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=" + vit + "&category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory"},
	{name: "granular search other category refused with RefuseBroadSearches", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1&category=" + vit, cfg: refuseBroad, want: 403},
	{name: "granular search category list ANDed with the granted one", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1&category=" + lab + "," + vit, want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=" + lab + "," + vit + "&category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory"},
	{name: "granular search category list refused with RefuseBroadSearches", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1&category=" + lab + "," + vit, cfg: refuseBroad, want: 403},
	{name: "granular search code only ANDed with the granted category", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1&category=laboratory", want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=laboratory&category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory"},
	{name: "granular search code only refused with RefuseBroadSearches", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1&category=laboratory", cfg: refuseBroad, want: 403},
	{name: "granular search rewrite", scopes: "patient/Observation.rs?category=" + lab, patient: "1", target: "Observation?patient=1", want: 200, wantPatient: "1", wantConstrain: true,
		wantQuery: "patient=1&category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory"},
	{name: "granular two alternatives one present", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?category=" + vit, patient: "1", target: "Observation?patient=1&category=" + vit, want: 200, wantPatient: "1", wantConstrain: true},
	{name: "granular two categories narrowed to one list", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?category=" + vit, patient: "1", target: "Observation?patient=1", want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=" + labQ + "," + vitQ},
	{name: "granular two categories narrowed without the guard", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?category=" + vit, patient: "1", target: "Observation?patient=1", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{SkipResponseGuard: true}}, want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=" + labQ + "," + vitQ},
	{name: "granular two categories refused with RefuseBroadSearches", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?category=" + vit, patient: "1", target: "Observation?patient=1", cfg: refuseBroad, want: 403},
	{name: "granular three categories and a shared status narrowed to one list", scopes: "patient/Observation.rs?category=" + lab + "&status=final patient/Observation.rs?status=final&category=" + vit + " patient/Observation.rs?category=" + soc + "&status=final", patient: "1", target: "Observation?code=x", want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "code=x&category=" + labQ + "," + vitQ + "," + socQ + "&status=final&patient=Patient%2F1"},
	{name: "granular category list within the scopes carried as it is", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?category=" + vit, patient: "1", target: "Observation?patient=1&category=" + vit + "," + lab, want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=" + vit + "," + lab},
	{name: "granular category list beyond the scopes narrowed", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?category=" + vit, patient: "1", target: "Observation?patient=1&category=" + lab + "," + soc, want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=" + lab + "," + soc + "&category=" + labQ + "," + vitQ},
	{name: "granular scope with a list carries one of its values", scopes: "patient/Observation.rs?category=" + lab + "," + vit, patient: "1", target: "Observation?patient=1&category=" + vit, want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category=" + vit},
	{name: "granular category with a modifier never carries a list", scopes: "patient/Observation.rs?category:not=" + lab + "," + vit, patient: "1", target: "Observation?patient=1&category:not=" + vit, want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1&category:not=" + vit + "&category%3Anot=" + labQ + "," + vitQ},
	{name: "granular category and code forwarded for the guard to filter", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?code=http://loinc.org|1-8", patient: "1", target: "Observation?patient=1", want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1"},
	{name: "granular :not alternatives never merged", scopes: "patient/Observation.rs?category:not=" + lab + " patient/Observation.rs?category:not=" + vit, patient: "1", target: "Observation?patient=1", want: 200, wantPatient: "1", wantConstrain: true, wantQuery: "patient=1"},
	{name: "granular category and code without the guard refused", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?code=http://loinc.org|1-8", patient: "1", target: "Observation?patient=1", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{SkipResponseGuard: true}}, want: 403},
	{name: "granular category and code refused with RefuseBroadSearches", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?code=http://loinc.org|1-8", patient: "1", target: "Observation?patient=1", cfg: refuseBroad, want: 403},
	{name: "granular category and code in a bundle refused", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs?code=http://loinc.org|1-8", patient: "1", method: "POST", target: "", body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?patient=1"}}]}`, want: 403},
	{name: "granular subsumed", scopes: "patient/Observation.rs?category=" + lab + " patient/Observation.rs", patient: "1", target: "Observation?patient=1", want: 200, wantPatient: "1"},
	{name: "granular create matching", scopes: "patient/Observation.c?category=" + lab, patient: "1", method: "POST", target: "Observation", body: obs("Patient/1", "laboratory"), want: 200, wantPatient: "1", wantConstrain: true},
	{name: "granular create not matching", scopes: "patient/Observation.c?category=" + lab, patient: "1", method: "POST", target: "Observation", body: obs("Patient/1", "vital-signs"), want: 403},
	{name: "granular unsupported modifier create", scopes: "user/Observation.c?code:in=http://vs", method: "POST", target: "Observation", body: obs("Patient/1", "laboratory"), want: 403},
	{name: "granular multi-type system search", scopes: "user/Observation.s?category=" + lab, target: "?_type=Observation", want: 403},
	{name: "granular user search", scopes: "user/Basic.s?code=https://app|1", target: "Basic?subject=Practitioner/b&code=https://app|1", want: 200, wantConstrain: true},
	{name: "granular operation refused", scopes: "patient/*.rs?category=" + lab, patient: "1", target: "Patient/1/$everything", want: 403},

	// Operations, _include, _revinclude.
	{name: "everything own", scopes: "patient/*.rs", patient: "1", target: "Patient/1/$everything", want: 200, wantPatient: "1"},
	{name: "everything typed scopes", scopes: "patient/Patient.rs patient/Observation.rs", patient: "1", target: "Patient/1/$everything", want: 403, wantScope: "patient/*.rs"},
	{name: "everything user", scopes: "user/*.rs", target: "Patient/7/$everything", want: 200},
	{name: "export not built in", scopes: "system/*.rs", target: "$export", want: 403},
	{name: "type export not built in", scopes: "system/*.rs", target: "Patient/$export", want: 403},
	{name: "export declared", scopes: "system/*.rs", target: "$export", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{Operations: map[string]smartmw.Operation{"$export": {Permission: scope.Read | scope.Search}}}}, want: 200},
	{name: "export declared patient", scopes: "patient/*.rs", patient: "1", target: "$export", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{Operations: map[string]smartmw.Operation{"$export": {Permission: scope.Read | scope.Search}}}}, want: 403},
	{name: "validate any type declared", scopes: "user/Observation.r", target: "Observation/1/$validate", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{Operations: map[string]smartmw.Operation{"*/[id]/$validate": {Permission: scope.Read}}}}, want: 200},
	{name: "validate compartment patient", scopes: "patient/Observation.r", patient: "1", target: "Observation/1/$validate", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{Operations: map[string]smartmw.Operation{"*/[id]/$validate": {Permission: scope.Read}}}}, want: 200, wantPatient: "1"},
	{name: "lastn type level patient", scopes: "patient/Observation.rs", patient: "1", target: "Observation/$lastn?patient=1", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{Operations: map[string]smartmw.Operation{"Observation/$lastn": {Permission: scope.Search}}}}, want: 403},
	{name: "include answered, each included resource checked", scopes: "patient/*.rs", patient: "1", target: "Observation?patient=1&_include=Observation:performer", want: 200, wantPatient: "1"},
	{name: "include iterate answered", scopes: "user/*.rs", target: "Observation?_include:iterate=Observation:performer", want: 200},
	{name: "revinclude answered", scopes: "patient/*.rs", patient: "1", target: "Patient?_id=1&_revinclude=Provenance:target", want: 200, wantPatient: "1"},
	{name: "include refused when RefuseIncludes", scopes: "patient/*.rs", patient: "1", target: "Observation?patient=1&_include=Observation:performer", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{RefuseIncludes: true}}, want: 403},
	{name: "include wildcard refused", scopes: "patient/*.rs", patient: "1", target: "Observation?patient=1&_include=*", want: 400},
	{name: "revinclude wildcard iterate refused", scopes: "patient/*.rs", patient: "1", target: "Observation?patient=1&_revinclude:iterate=*", want: 400},
	{name: "include typed wildcard refused", scopes: "patient/*.rs", patient: "1", target: "Observation?patient=1&_include=*:*", want: 400},
	{name: "sixteen includes answered", scopes: "patient/*.rs", patient: "1", target: "Observation?patient=1" + strings.Repeat("&_include:iterate=Observation:has-member", 16), want: 200, wantPatient: "1"},
	{name: "seventeen includes refused", scopes: "patient/*.rs", patient: "1", target: "Observation?patient=1" + strings.Repeat("&_include:iterate=Observation:has-member", 17), want: 400},
	{name: "named query refused", scopes: "user/*.rs", target: "Observation?_query=all", want: 403},

	// Capabilities.
	{name: "metadata any token", scopes: "openid", target: "metadata", want: 200},

	// Malformed requests never pass.
	{name: "unknown type", scopes: "user/*.cruds", target: "Foo/1", want: 404},
	{name: "lower-case type", scopes: "user/*.cruds", target: "observation/1", want: 404},
	{name: "bad id", scopes: "user/*.cruds", target: "Observation/a_b", want: 400},
	{name: "dot-dot", scopes: "user/*.cruds", target: "Observation/../Patient/1", want: 400},
	{name: "encoded slash", scopes: "user/*.cruds", target: "Observation%2F1", want: 400},
	{name: "too many segments", scopes: "user/*.cruds", target: "Observation/1/_history/2/x", want: 404},
	{name: "bad query escape", scopes: "user/*.cruds", target: "Observation?code=%zz", want: 400},
	{name: "post search not form", scopes: "user/*.rs", method: "POST", target: "Observation/_search", body: "{}", header: map[string]string{"Content-Type": "application/json"}, want: 400},
}

func TestDecisionTable(t *testing.T) {
	cases := append(matrixCases(), namedCases...)
	cases = append(cases, bundleCases...)
	cases = append(cases, bundleCaseSensitivity...)
	for _, tc := range cases {
		t.Run(tc.name, tc.run)
	}
	t.Logf("decision table: %d cases", len(cases))
}

var bundleCases = []decisionCase{
	{name: "batch all allowed", scopes: "patient/Observation.rs patient/Patient.r", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/1"}},{"request":{"method":"GET","url":"Observation?patient=1"}}]}`, want: 200},
	{name: "batch one other patient", scopes: "patient/Observation.rs patient/Patient.r", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/1"}},{"request":{"method":"GET","url":"Patient/2"}}]}`, want: 403},
	{name: "batch read denied is 404 with NotFoundForDenied, as alone", scopes: "patient/Patient.r", patient: "1", method: "POST", target: "", cfg: smartmw.Config{FHIR: smartmw.FHIROptions{NotFoundForDenied: true}},
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/2"}}]}`, want: 404},
	{name: "transaction create in compartment", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + obs("Patient/1", "laboratory") + `,"request":{"method":"POST","url":"Observation"}}]}`, want: 200},
	{name: "transaction create other patient", scopes: "patient/Observation.c", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + obs("Patient/1", "laboratory") + `,"request":{"method":"POST","url":"Observation"}},{"resource":` + obs("Patient/2", "laboratory") + `,"request":{"method":"POST","url":"Observation"}}]}`, want: 403},
	{name: "transaction absolute url", scopes: "user/Observation.r", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"` + base + `/Observation/1"}}]}`, want: 200},
	{name: "transaction foreign url", scopes: "user/Observation.r", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"https://evil.example/Observation/1"}}]}`, want: 400},
	{name: "batch search not naming the patient refused with RefuseBroadSearches", scopes: "patient/Observation.rs", patient: "1", method: "POST", target: "", cfg: refuseBroad,
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?code=x"}}]}`, want: 403},
	{name: "batch search entry with a URL in its query (a token's system)", scopes: "patient/Observation.rs", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?patient=1&category=` + lab + `"}}]}`, want: 200},
	{name: "batch entry URL on another server refused", scopes: "patient/Observation.rs", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"https://evil.example/fhir/Observation?patient=1"}}]}`, want: 400},
	{name: "batch nested", scopes: "user/*.cruds", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"POST","url":""}}]}`, want: 400},
	{name: "batch bad entry path", scopes: "user/*.cruds", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/../x"}}]}`, want: 400},
	{name: "bundle document refused", scopes: "user/*.cruds", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"document","entry":[]}`, want: 400},
	{name: "bundle not a bundle", scopes: "user/*.cruds", method: "POST", target: "", body: `{"resourceType":"Patient"}`, want: 400},
	{name: "bundle no request", scopes: "user/*.cruds", method: "POST", target: "", body: `{"resourceType":"Bundle","type":"batch","entry":[{}]}`, want: 400},
	{name: "batch operation entry", scopes: "patient/*.rs", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/1/$everything"}}]}`, want: 200},
	{name: "batch conditional create", scopes: "patient/Observation.cs", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + obs("Patient/1", "laboratory") + `,"request":{"method":"POST","url":"Observation","ifNoneExist":"identifier=x"}}]}`, want: 403},
}

var bundleCaseSensitivity = []decisionCase{
	{name: "bundle key case trick", scopes: "patient/Patient.r", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/2","URL":"Patient/1"}}]}`, want: 400}, // two keys equal but for case: unreadable
	{name: "bundle key case only", scopes: "patient/Patient.r", patient: "1", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","URL":"Patient/1"}}]}`, want: 400},
	{name: "method override header", scopes: "user/Observation.c", method: "POST", target: "Observation", body: obs("Patient/1", "laboratory"), header: map[string]string{"X-HTTP-Method-Override": "DELETE"}, want: 400},
	{name: "method override header lower", scopes: "user/*.rs", target: "Observation/1", header: map[string]string{"x-method-override": "DELETE"}, want: 400},
	{name: "_method param", scopes: "user/*.rs", target: "Observation?_method=DELETE", want: 400},
	{name: "_method param on read", scopes: "user/*.rs", target: "Observation/1?_m%65thod=DELETE", want: 400},
	{name: "bundle entry _method", scopes: "user/*.rs", method: "POST", target: "",
		body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation/1?_method=DELETE"}}]}`, want: 400},
	{name: "semicolon separator", scopes: "patient/*.rs", patient: "1", target: "Observation?patient=1&code=x;_include=Observation:subject", want: 400},
}
