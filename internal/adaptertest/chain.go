package adaptertest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

func refusalStopsTheChain(t *testing.T, f Framework) {
	is, g := NewGuard(t)
	tok := PatientToken(t, is, "patient/Observation.rs")
	var ran, stopped bool
	h := f.Protect(g, API{
		Bases: []string{"/fhir", "/other"},
		Routes: []Route{{Path: "/:type/:id", Handle: func(c Ctx) error {
			ran = true
			return c.Respond(http.StatusOK, "a later handler wrote this")
		}}},
		ChainStopped: func(s bool) { stopped = s },
	})
	tests := []Case{
		{Name: "no token", Method: "GET", Target: "/fhir/Observation/obs-123", WantStatus: 401},
		{Name: "a type the scopes do not name", Method: "GET", Target: "/fhir/Condition/cond-123", Token: tok, WantStatus: 403},
		{Name: "a path outside the FHIR base", Method: "GET", Target: "/other/Observation/obs-123", Token: tok, WantStatus: 404},
		{Name: "a CORS preflight", Method: "OPTIONS", Target: "/fhir/Observation/obs-123", Origin: AppOrigin, WantStatus: 204},
	}
	for _, tc := range tests {
		t.Run(tc.Name, func(t *testing.T) {
			ran, stopped = false, false
			w := Serve(h, tc.request())
			tc.check(t, w)
			if ran || !stopped {
				t.Errorf("the handler after Protect ran: %v; the chain stopped at Protect: %v", ran, stopped)
			}
			if strings.Contains(w.Body.String(), "later handler") {
				t.Errorf("a later handler wrote past the refusal: %s", w.Body)
			}
		})
	}
}

func handlerSeesTheGrantTheDecisionAndTheNarrowedSearch(t *testing.T, f Framework) {
	for _, refuse := range []bool{false, true} {
		is, g := NewGuard(t, func(c *smartmw.Config) { c.FHIR.RefuseBroadSearches = refuse })
		var got string
		h := f.Protect(g, API{Routes: []Route{{Method: "GET", Path: "/Observation", Handle: func(c Ctx) error {
			gr, _ := smartctx.FromContext(c.Request().Context())
			d, _ := smartctx.DecisionFromContext(c.Request().Context())
			got = gr.Patient() + " " + string(d.Request().Interaction) + " " + c.Query("patient")
			return c.Respond(http.StatusOK, `{"resourceType":"Bundle","type":"searchset"}`)
		}}}})
		w := Serve(h, Request("GET", "/fhir/Observation?code=x", PatientToken(t, is, "patient/Observation.rs"), ""))
		switch {
		case refuse && (w.Code != http.StatusForbidden || got != ""):
			t.Errorf("RefuseBroadSearches: %d %s; the handler saw %q", w.Code, w.Body, got)
		case !refuse && (w.Code != 200 || got != "123 search-type Patient/123"):
			t.Errorf("narrowed by default: %d %s; the handler saw %q", w.Code, w.Body, got)
		}
	}
}

func panicInHandlerReachesTheFrameworksRecovery(t *testing.T, f Framework) {
	is, g := NewGuard(t)
	var logged bytes.Buffer
	h := f.Protect(g, API{Log: &logged, Routes: []Route{{Method: "GET", Path: "/Observation/:id", Handle: func(c Ctx) error {
		c.Writer().Header().Set("ETag", `W/"9"`)
		c.Writer().WriteHeader(http.StatusOK)
		io.WriteString(c.Writer(), resources["Observation/obs-456"])
		panic("the handler failed")
	}}}})
	w := Serve(h, Request("GET", "/fhir/Observation/obs-456", PatientToken(t, is, "patient/Observation.rs"), ""))
	if w.Code != http.StatusInternalServerError || leaks(w.Body.String()) {
		t.Errorf("%d %s, want 500 without the handler's body", w.Code, w.Body)
	}
	if !strings.Contains(logged.String(), "the handler failed") {
		t.Errorf("the framework's recovery did not see the panic: %q", logged.String())
	}
}

func flushStreamsOnlyWhatTheGuardNeedNotHold(t *testing.T, f Framework) {
	is, g := NewGuard(t)
	tests := []struct {
		name, token string
		wantFlushed bool
	}{
		{"a patient/ read is held and checked whole", PatientToken(t, is, "patient/Observation.rs"), false},
		{"a practitioner's user/ read streams", is.Token(t, smarttest.Scopes("user/Observation.rs"), smarttest.FHIRUser("Practitioner/9")), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var flushedBeforeEnd bool
			rec := httptest.NewRecorder()
			h := f.Protect(g, API{Routes: []Route{{Method: "GET", Path: "/Observation/:id", Handle: func(c Ctx) error {
				body := resources["Observation/obs-123"]
				c.Writer().WriteHeader(http.StatusOK)
				c.Stream(body[:10])
				flushedBeforeEnd = rec.Flushed
				_, err := io.WriteString(c.Writer(), body[10:])
				return err
			}}}})
			serveTo(rec, h, Request("GET", "/fhir/Observation/obs-123", tc.token, ""))
			if rec.Code != 200 || rec.Body.String() != resources["Observation/obs-123"] || flushedBeforeEnd != tc.wantFlushed {
				t.Errorf("%d %s; flushed before the end: %v, want %v", rec.Code, rec.Body, flushedBeforeEnd, tc.wantFlushed)
			}
		})
	}
}

func hijackFailsWhileTheGuardHoldsTheResponse(t *testing.T, f Framework) {
	is, g := NewGuard(t)
	var err error
	h := f.Protect(g, API{Routes: []Route{{Method: "GET", Path: "/Observation/:id", Handle: func(c Ctx) error {
		hj, ok := c.Writer().(http.Hijacker)
		if !ok {
			err = errors.New("the framework's writer is no http.Hijacker")
			t.Error(err)
		} else if _, _, err = hj.Hijack(); err == nil {
			t.Error("hijacked")
			return nil
		}
		return c.Respond(http.StatusOK, resources["Observation/obs-456"])
	}}}})
	w := Serve(h, Request("GET", "/fhir/Observation/obs-456", PatientToken(t, is, "patient/Observation.rs"), ""))
	if err == nil || w.Code != http.StatusForbidden {
		t.Errorf("%d %s, hijack error %v", w.Code, w.Body, err)
	}
}

func writeWhoseReadRouteIsMissingIsRefused(t *testing.T, f Framework) {
	is, g := NewGuard(t)
	tok := PatientToken(t, is, "patient/Observation.ud")
	wirings := f.UncheckableWrites()
	if len(wirings) == 0 {
		t.Fatal("the framework names no wiring whose writes cannot be checked")
	}
	for _, wiring := range wirings {
		t.Run(wiring.Name, func(t *testing.T) {
			a := &FHIR{}
			h := wiring.Mount(g, API{Routes: []Route{
				// Whatever the id, the patient's own Observation:
				// answered where the Guard must not look, it would
				// let the delete through.
				{Method: "GET", Path: "/Observation/:id", Handle: func(c Ctx) error {
					return c.Respond(http.StatusOK, resources["Observation/obs-123"])
				}},
				{Method: "DELETE", Path: "/Observation/:id", Handle: a.DeleteObservation},
			}})
			w := Serve(h, Request("DELETE", "/fhir/Observation/obs-456", tok, ""))
			if w.Code != http.StatusBadGateway || len(a.Calls()) > 0 {
				t.Errorf("%d %s, want 502; the write handler ran: %q", w.Code, w.Body, a.Calls())
			}
		})
	}
}
