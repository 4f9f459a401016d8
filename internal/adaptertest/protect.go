package adaptertest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// protectedFHIR returns a new FHIR and f's Protect around it, written in
// style.
func protectedFHIR(f Framework, g *smartmw.Guard, style int) (*FHIR, http.Handler) {
	a := &FHIR{}
	return a, f.Protect(g, API{Routes: a.Routes(), Style: style})
}

// eachStyle runs test once for each of f's styles, as a subtest.
func eachStyle(t *testing.T, f Framework, test func(t *testing.T, style int)) {
	t.Helper()
	for i, name := range f.Styles() {
		t.Run(name, func(t *testing.T) { test(t, i) })
	}
}

func handlerThatIgnoresTheGrantLeaksNoOtherPatient(t *testing.T, f Framework) {
	is, g := NewGuard(t)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs patient/Patient.r"), smarttest.Patient("123"))
	tests := []Case{
		{Name: "the patient's own Patient is served", Method: "GET", Target: "/fhir/Patient/123", Token: tok,
			WantStatus: 200, WantIn: `"123"`, WantCalls: []string{"GET Patient/123"}},
		{Name: "another patient's Patient is refused before the handler", Method: "GET", Target: "/fhir/Patient/456", Token: tok,
			WantStatus: 403},
		{Name: "the patient's own Observation is served", Method: "GET", Target: "/fhir/Observation/obs-123", Token: tok,
			WantStatus: 200, WantIn: `"obs-123"`, WantCalls: []string{"GET Observation/obs-123"}},
		{Name: "another patient's Observation by id is refused after the handler answered it", Method: "GET", Target: "/fhir/Observation/obs-456", Token: tok,
			WantStatus: 403, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "a search answered with every patient's Observations keeps the patient's only", Method: "GET", Target: "/fhir/Observation?patient=123", Token: tok,
			WantStatus: 200, WantIDs: []string{"obs-123"}, WantCalls: []string{"search Observation"}},
		{Name: "a search without the patient is narrowed, and what the handler answers past it withheld", Method: "GET", Target: "/fhir/Observation", Token: tok,
			WantStatus: 200, WantIDs: []string{"obs-123"}, WantIn: "withheld", WantCalls: []string{"search Observation"}},
		{Name: "a search naming another patient is refused", Method: "GET", Target: "/fhir/Observation?patient=456", Token: tok,
			WantStatus: 403},
		{Name: "no token is 401", Method: "GET", Target: "/fhir/Observation/obs-123",
			WantStatus: 401},
		{Name: "an expired token is 401", Method: "GET", Target: "/fhir/Observation/obs-123",
			Token:      is.Token(t, smarttest.Scopes("patient/Observation.rs"), smarttest.Patient("123"), smarttest.Expired()),
			WantStatus: 401},
		{Name: "a type the scopes do not name is 403", Method: "GET", Target: "/fhir/Condition/cond-123", Token: tok,
			WantStatus: 403},
	}
	eachStyle(t, f, func(t *testing.T, style int) {
		a, h := protectedFHIR(f, g, style)
		RunCases(t, h, a, tests)
	})
}

// naiveAdaptersLeak shows what Protect prevents, so that the suite can
// fail: each naive adapter lets through what it says.
func naiveAdaptersLeak(t *testing.T, f Framework) {
	is, g := NewGuard(t)
	read := PatientToken(t, is, "patient/Observation.rs")
	write := PatientToken(t, is, "patient/Observation.ud")
	for _, naive := range f.NaiveAdapters() {
		t.Run(naive.Name, func(t *testing.T) {
			if !naive.LeaksRead && !naive.ReachesWrite {
				t.Fatal("the naive adapter leaks nothing: it proves nothing")
			}
			eachStyle(t, f, func(t *testing.T, style int) {
				a := &FHIR{}
				h := naive.Mount(g, API{Routes: a.Routes(), Style: style})
				if naive.LeaksRead {
					w := Serve(h, Request("GET", "/fhir/Observation/obs-456", read, ""))
					if w.Code != 200 || !strings.Contains(w.Body.String(), `"obs-456"`) {
						t.Errorf("the naive adapter did not leak (%d %s): the leak tests prove nothing", w.Code, w.Body)
					}
				}
				if naive.ReachesWrite {
					Serve(h, Request("DELETE", "/fhir/Observation/obs-456", write, ""))
					if !slices.Contains(a.Calls(), "DELETE Observation/obs-456") {
						t.Errorf("the naive adapter kept the write from the handler (calls %q): the write tests prove nothing", a.Calls())
					}
				}
			})
		})
	}
}

func otherPatientsResourceLooksMissing(t *testing.T, f Framework) {
	is, g := NewGuard(t, func(c *smartmw.Config) { c.FHIR.NotFoundForDenied = true })
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs patient/Patient.r"), smarttest.Patient("123"))
	pairs := []struct{ name, method, other, missing string }{
		{"Observation by id, refused by the response guard", "GET", "/fhir/Observation/obs-456", "/fhir/Observation/obs-999"},
		{"Patient by id, refused before the handler", "GET", "/fhir/Patient/456", "/fhir/Patient/999"},
		{"HEAD of an Observation, answered by the GET route", "HEAD", "/fhir/Observation/obs-456", "/fhir/Observation/obs-999"},
	}
	eachStyle(t, f, func(t *testing.T, style int) {
		_, h := protectedFHIR(f, g, style)
		for _, p := range pairs {
			t.Run(p.name, func(t *testing.T) {
				other := Serve(h, Request(p.method, p.other, tok, ""))
				missing := Serve(h, Request(p.method, p.missing, tok, ""))
				if other.Code != http.StatusNotFound || missing.Code != other.Code || other.Body.String() != missing.Body.String() {
					t.Errorf("another patient's resource: %d %s; a missing one: %d %s", other.Code, other.Body, missing.Code, missing.Body)
				}
				for _, h := range []string{"Content-Type", "ETag", "WWW-Authenticate", "Content-Length"} {
					if a, b := other.Header().Get(h), missing.Header().Get(h); a != b {
						t.Errorf("%s: %q for another patient's resource, %q for a missing one", h, a, b)
					}
				}
			})
		}
	})
}

func writeToAnotherPatientsResourceNeverReachesTheHandler(t *testing.T, f Framework) {
	for _, notFound := range []bool{false, true} {
		t.Run(fmt.Sprintf("NotFoundForDenied=%v", notFound), func(t *testing.T) {
			is, g := NewGuard(t, func(c *smartmw.Config) { c.FHIR.NotFoundForDenied = notFound })
			tok := PatientToken(t, is, "patient/Observation.ud")
			refused := http.StatusForbidden
			// A missing resource: deleted by the handler, or, with
			// NotFoundForDenied, answered by the guard as a refused
			// one is.
			missingStatus, missingCalls := http.StatusNoContent, []string{"GET Observation/obs-999", "DELETE Observation/obs-999"}
			if notFound {
				refused = http.StatusNotFound
				missingStatus, missingCalls = http.StatusNotFound, []string{"GET Observation/obs-999"}
			}
			tests := []Case{
				{Name: "update of another patient's Observation", Method: "PUT", Target: "/fhir/Observation/obs-456", Token: tok,
					Body:       Observation("obs-456", "123"),
					WantStatus: refused, WantCalls: []string{"GET Observation/obs-456"}},
				{Name: "delete of another patient's Observation", Method: "DELETE", Target: "/fhir/Observation/obs-456", Token: tok,
					WantStatus: refused, WantCalls: []string{"GET Observation/obs-456"}},
				{Name: "update of the patient's own Observation, conditional on what was read", Method: "PUT", Target: "/fhir/Observation/obs-123", Token: tok,
					Body:       Observation("obs-123", "123"),
					WantStatus: 200, WantCalls: []string{"GET Observation/obs-123", `PUT Observation/obs-123 If-Match W/"1"`}},
				{Name: "delete of the patient's own Observation", Method: "DELETE", Target: "/fhir/Observation/obs-123", Token: tok,
					WantStatus: 204, WantCalls: []string{"GET Observation/obs-123", "DELETE Observation/obs-123"}},
				{Name: "delete of a missing Observation", Method: "DELETE", Target: "/fhir/Observation/obs-999", Token: tok,
					WantStatus: missingStatus, WantCalls: missingCalls},
			}
			eachStyle(t, f, func(t *testing.T, style int) {
				a, h := protectedFHIR(f, g, style)
				RunCases(t, h, a, tests)
			})
		})
	}
}

func headIsAnsweredByTheGETRouteThroughTheGuard(t *testing.T, f Framework) {
	for _, notFound := range []bool{false, true} {
		t.Run(fmt.Sprintf("NotFoundForDenied=%v", notFound), func(t *testing.T) {
			is, g := NewGuard(t, func(c *smartmw.Config) { c.FHIR.NotFoundForDenied = notFound })
			tok := PatientToken(t, is, "patient/Observation.rs")
			refused := http.StatusForbidden
			if notFound {
				refused = http.StatusNotFound
			}
			eachStyle(t, f, func(t *testing.T, style int) {
				a, h := protectedFHIR(f, g, style)
				own := Serve(h, Request("HEAD", "/fhir/Observation/obs-123", tok, ""))
				other := Serve(h, Request("HEAD", "/fhir/Observation/obs-456", tok, ""))
				missing := Serve(h, Request("HEAD", "/fhir/Observation/obs-999", tok, ""))
				if own.Code != 200 || own.Header().Get("ETag") != `W/"1"` {
					t.Errorf("HEAD of the patient's own Observation: %d %v", own.Code, own.Header())
				}
				if other.Code != refused || other.Header().Get("ETag") != "" || missing.Code != 404 {
					t.Errorf("HEAD of another patient's Observation: %d %v, want %d without an ETag; of a missing one: %d, want 404",
						other.Code, other.Header(), refused, missing.Code)
				}
				if notFound {
					for _, h := range []string{"ETag", "Content-Type", "Content-Length"} {
						if a, b := other.Header().Get(h), missing.Header().Get(h); a != b {
							t.Errorf("%s: %q for another patient's resource, %q for a missing one", h, a, b)
						}
					}
				}
				// The GET route answers each HEAD: the HEAD route's
				// handler never runs.
				want := []string{"GET Observation/obs-123", "GET Observation/obs-456", "GET Observation/obs-999"}
				if calls := a.Calls(); !slices.Equal(calls, want) {
					t.Errorf("the handlers' calls %q, want %q", calls, want)
				}
			})
		})
	}
}
