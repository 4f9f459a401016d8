package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

// The engine's test harness: an Engine for the base
// https://ehr.example.org/fhir with the middleware's default bounds, grants
// made by hand, and requests decided (Decide) or served (Serve) in
// process.

const (
	testBase = "https://ehr.example.org/fhir"
	labCat   = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
	vitCat   = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
	socCat   = "http://terminology.hl7.org/CodeSystem/observation-category|social-history"
)

// testEngine returns an Engine for testBase with opt's rules (its base
// and bounds are filled in), answering refusals with their status.
func testEngine(t testing.TB, adjust func(*Options)) *Engine {
	t.Helper()
	opt := Options{
		BasePath:         "/fhir",
		BaseURL:          testBase,
		MaxBodyBytes:     10 << 20,
		MaxResponseBytes: 32 << 20,
		MaxStoredBytes:   32 << 20,
		MaxBundleEntries: 1000,
		MaxStoredReads:   100,
		Operations:       map[string]Operation{"Patient/[id]/$everything": {Permission: scope.Read | scope.Search, AllTypes: true}},
		OnError: func(w http.ResponseWriter, _ *http.Request, err error) {
			var e *Error
			if !errors.As(err, &e) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(e.Status)
			io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":`+
				quoteJSON(e.Description)+`}]}`)
		},
		Outcome: func(e *Error) []byte {
			return []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden"}]}`)
		},
	}
	if adjust != nil {
		adjust(&opt)
	}
	return New(opt)
}

func quoteJSON(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// testGrant is a grant of scopes with the patient in context (or none),
// and fhirUser when not empty.
func testGrant(scopes, patient, fhirUser string) *smartctx.Grant {
	return smartctx.NewGrant(smartctx.Claims{Subject: "u1", ClientID: "app", Scopes: scope.Parse(scopes),
		Patient: patient, FHIRUser: fhirUser})
}

// newRequest is a request for target under the base ("Observation?x=1"),
// with a form body for a POST _search and a FHIR JSON body otherwise.
func newRequest(method, target, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, testBase+"/"+target, rd)
	if body != "" {
		path, _, _ := strings.Cut(target, "?")
		if strings.HasSuffix(path, "_search") {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r.Header.Set("Content-Type", "application/fhir+json")
		}
	}
	return r
}

// decideStatus decides the request and returns its decision, or the
// status of its refusal with the refusal.
func decideStatus(t testing.TB, a *Engine, g *smartctx.Grant, r *http.Request) (*smartctx.Decision, int, error) {
	t.Helper()
	d, err := a.Decide(context.Background(), g, r)
	if err == nil {
		return d, http.StatusOK, nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s %s: %v is not an *Error", r.Method, r.URL, err)
	}
	return nil, e.Status, err
}

// served is what a handler behind Serve saw and what the client got.
type served struct {
	code    int
	body    string
	header  http.Header
	seen    []string // the requests the handler saw: method, URL (path?query), then the form body if any
	decided *smartctx.Decision
}

// serve serves r for g through a.Serve with next, recording what next
// saw.
func serve(t testing.TB, a *Engine, g *smartctx.Grant, r *http.Request, next http.HandlerFunc) served {
	t.Helper()
	var s served
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := r.Method + " " + r.URL.RequestURI()
		if r.Body != nil && r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			if len(b) > 0 {
				line += " " + string(b)
			}
		}
		s.seen = append(s.seen, line)
		if d, ok := smartctx.DecisionFromContext(r.Context()); ok && !IsGuardRead(r) {
			s.decided = d
		}
		next(w, r)
	})
	w := httptest.NewRecorder()
	a.Serve(w, r, g, true, h)
	s.code, s.body, s.header = w.Code, w.Body.String(), w.Header()
	return s
}
