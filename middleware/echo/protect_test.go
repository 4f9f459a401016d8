package smartecho_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	smartmw "github.com/smartguard/smartguard/middleware"
	smartecho "github.com/smartguard/smartguard/middleware/echo"
	"github.com/smartguard/smartguard/smarttest"
)

// protectedLeakyAPI returns an Echo serving leakyAPI, written in style,
// behind Protect with g.
func protectedLeakyAPI(g *smartmw.Guard, style writeStyle, k *calls) *echo.Echo {
	e := newEcho()
	leakyAPI(e.Group("/fhir", smartecho.Protect(g, e)), style, k)
	return e
}

func TestHandlerThatIgnoresTheGrantLeaksNoOtherPatient(t *testing.T) {
	is, g := newGuard(t)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs patient/Patient.r"), smarttest.Patient("123"))
	tests := []struct {
		name, method, target, token string
		wantStatus                  int
		wantCall                    string   // a call the handlers must have made; "" for none at all
		wantIDs                     []string // the ids of a Bundle answered
		wantIn                      string   // a string the body must hold
	}{
		{name: "the patient's own Patient is served", method: "GET", target: "/fhir/Patient/123", token: tok,
			wantStatus: 200, wantCall: "GET Patient/123", wantIn: `"123"`},
		{name: "another patient's Patient is refused before the handler", method: "GET", target: "/fhir/Patient/456", token: tok,
			wantStatus: 403},
		{name: "the patient's own Observation is served", method: "GET", target: "/fhir/Observation/obs-123", token: tok,
			wantStatus: 200, wantCall: "GET Observation/obs-123", wantIn: `"obs-123"`},
		{name: "another patient's Observation by id is refused after the handler answered it", method: "GET", target: "/fhir/Observation/obs-456", token: tok,
			wantStatus: 403, wantCall: "GET Observation/obs-456"},
		{name: "a search answered with every patient's Observations keeps the patient's only", method: "GET", target: "/fhir/Observation?patient=123", token: tok,
			wantStatus: 200, wantCall: "search Observation", wantIDs: []string{"obs-123"}},
		{name: "a search without the patient is refused", method: "GET", target: "/fhir/Observation", token: tok,
			wantStatus: 403},
		{name: "no token is 401", method: "GET", target: "/fhir/Observation/obs-123",
			wantStatus: 401},
		{name: "an expired token is 401", method: "GET", target: "/fhir/Observation/obs-123",
			token:      is.Token(t, smarttest.Scopes("patient/Observation.rs"), smarttest.Patient("123"), smarttest.Expired()),
			wantStatus: 401},
		{name: "a type the scopes do not name is 403", method: "GET", target: "/fhir/Condition/cond-123", token: tok,
			wantStatus: 403},
	}
	for _, style := range writeStyles {
		t.Run(style.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					k := &calls{}
					w := do(protectedLeakyAPI(g, style, k), tc.method, tc.target, tc.token, "")
					if w.Code != tc.wantStatus {
						t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
					}
					if body := w.Body.String(); strings.Contains(body, "456") {
						t.Errorf("the answer leaks patient 456: %s", body)
					}
					if w.Header().Get("ETag") != "" && w.Code != 200 {
						t.Errorf("a refusal carries the handler's ETag")
					}
					switch {
					case tc.wantCall == "" && len(k.log) > 0:
						t.Errorf("the handlers ran: %s", k)
					case tc.wantCall != "" && !k.has(tc.wantCall):
						t.Errorf("calls %q, want %q", k, tc.wantCall)
					}
					if tc.wantIDs != nil {
						if ids := entryIDs(t, w.Body.Bytes()); !slices.Equal(ids, tc.wantIDs) {
							t.Errorf("entries %v, want %v", ids, tc.wantIDs)
						}
					}
					if !strings.Contains(w.Body.String(), tc.wantIn) {
						t.Errorf("body %s, want it to hold %s", w.Body, tc.wantIn)
					}
					if tc.wantStatus == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
						t.Errorf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
					}
				})
			}
		})
	}
}

// TestNaiveAdaptersLeak shows what Protect prevents, so that the tests of
// Protect can fail: an adapter that runs the echo handler inside the
// Guard without giving it the Guard's writer lets echo write past it,
// and echo.WrapMiddleware, which does, runs the write handler for the
// Guard's read of the stored resource.
func TestNaiveAdaptersLeak(t *testing.T) {
	is, g := newGuard(t)
	naive := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			g.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				err = next(c)
			})).ServeHTTP(c.Response(), c.Request())
			return err
		}
	}
	for _, style := range writeStyles {
		t.Run(style.name, func(t *testing.T) {
			t.Run("the writer not swapped: a read leaks", func(t *testing.T) {
				e := newEcho()
				leakyAPI(e.Group("/fhir", naive), style, &calls{})
				w := do(e, "GET", "/fhir/Observation/obs-456", patientToken(t, is, "patient/Observation.rs"), "")
				if w.Code != 200 || !strings.Contains(w.Body.String(), `"obs-456"`) {
					t.Errorf("the naive adapter did not leak (%d %s): the leak tests prove nothing", w.Code, w.Body)
				}
			})
			t.Run("echo.WrapMiddleware: a write reaches the handler", func(t *testing.T) {
				e := newEcho()
				k := &calls{}
				leakyAPI(e.Group("/fhir", echo.WrapMiddleware(g.Handler)), style, k)
				do(e, "DELETE", "/fhir/Observation/obs-456", patientToken(t, is, "patient/Observation.ud"), "")
				if !k.has("DELETE Observation/obs-456") {
					t.Errorf("echo.WrapMiddleware kept the write from the handler (calls %s): the write tests prove nothing", k)
				}
			})
		})
	}
}

func TestOtherPatientsResourceLooksMissing(t *testing.T) {
	is, g := newGuard(t, func(c *smartmw.Config) { c.NotFoundForDenied = true })
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs patient/Patient.r"), smarttest.Patient("123"))
	for _, style := range writeStyles {
		t.Run(style.name, func(t *testing.T) {
			h := protectedLeakyAPI(g, style, &calls{})
			pairs := []struct{ name, method, other, missing string }{
				{"Observation by id, refused by the response guard", "GET", "/fhir/Observation/obs-456", "/fhir/Observation/obs-999"},
				{"Patient by id, refused before the handler", "GET", "/fhir/Patient/456", "/fhir/Patient/999"},
				{"HEAD of an Observation, answered by the GET route", "HEAD", "/fhir/Observation/obs-456", "/fhir/Observation/obs-999"},
			}
			for _, p := range pairs {
				t.Run(p.name, func(t *testing.T) {
					other := do(h, p.method, p.other, tok, "")
					missing := do(h, p.method, p.missing, tok, "")
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
}

func TestWriteToAnotherPatientsResourceNeverReachesTheHandler(t *testing.T) {
	for _, notFound := range []bool{false, true} {
		is, g := newGuard(t, func(c *smartmw.Config) { c.NotFoundForDenied = notFound })
		tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.ud"), smarttest.Patient("123"))
		refused := http.StatusForbidden
		// A missing resource: deleted by the handler, or, with
		// NotFoundForDenied, answered by the guard as a refused one is.
		missingStatus, missingCalls := http.StatusNoContent, []string{"GET Observation/obs-999", "DELETE Observation/obs-999"}
		if notFound {
			refused = http.StatusNotFound
			missingStatus, missingCalls = http.StatusNotFound, []string{"GET Observation/obs-999"}
		}
		tests := []struct {
			name, method, target, body string
			wantStatus                 int
			wantCalls                  []string // in order
		}{
			{name: "update of another patient's Observation", method: "PUT", target: "/fhir/Observation/obs-456",
				body:       observation("obs-456", "123"),
				wantStatus: refused, wantCalls: []string{"GET Observation/obs-456"}},
			{name: "delete of another patient's Observation", method: "DELETE", target: "/fhir/Observation/obs-456",
				wantStatus: refused, wantCalls: []string{"GET Observation/obs-456"}},
			{name: "update of the patient's own Observation, conditional on what was read", method: "PUT", target: "/fhir/Observation/obs-123",
				body:       observation("obs-123", "123"),
				wantStatus: 200, wantCalls: []string{"GET Observation/obs-123", `PUT Observation/obs-123 If-Match W/"1"`}},
			{name: "delete of the patient's own Observation", method: "DELETE", target: "/fhir/Observation/obs-123",
				wantStatus: 204, wantCalls: []string{"GET Observation/obs-123", "DELETE Observation/obs-123"}},
			{name: "delete of a missing Observation", method: "DELETE", target: "/fhir/Observation/obs-999",
				wantStatus: missingStatus, wantCalls: missingCalls},
		}
		for _, style := range writeStyles {
			for _, tc := range tests {
				t.Run(fmt.Sprintf("NotFoundForDenied=%v/%s/%s", notFound, style.name, tc.name), func(t *testing.T) {
					k := &calls{}
					w := do(protectedLeakyAPI(g, style, k), tc.method, tc.target, tok, tc.body)
					if w.Code != tc.wantStatus {
						t.Errorf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
					}
					if !slices.Equal(k.log, tc.wantCalls) {
						t.Errorf("calls %q, want %q", k, tc.wantCalls)
					}
					if strings.Contains(w.Body.String(), "456") {
						t.Errorf("the answer leaks patient 456: %s", w.Body)
					}
				})
			}
		}
	}
}
