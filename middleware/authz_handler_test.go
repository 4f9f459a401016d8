package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// serve runs one request through authz.Handler with g on the context (if
// not nil) and returns the response and what the next handler saw.
func serve(t *testing.T, a *smartmw.Guard, g *smartctx.Grant, r *http.Request) (*httptest.ResponseRecorder, *http.Request) {
	t.Helper()
	var seen *http.Request
	h := a.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write([]byte(`{"resourceType":"Bundle","type":"searchset"}`)) // an empty search result
		}
	}))
	if g != nil {
		r = r.WithContext(smartctx.NewContext(r.Context(), g))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, seen
}

func TestHandlerWithoutGrantRefuses(t *testing.T) {
	a := newAuthorizer(t, smartmw.Config{})
	w, seen := serve(t, a, nil, httptest.NewRequest("GET", base+"/metadata", nil))
	if seen != nil || w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, next called: %v", w.Code, seen != nil)
	}
	if _, err := a.Decide(context.Background(), nil, httptest.NewRequest("GET", base+"/metadata", nil)); err == nil {
		t.Fatal("Decide without a grant allowed")
	}
}

func TestHandlerAllows(t *testing.T) {
	a := newAuthorizer(t, smartmw.Config{})
	body := obs("Patient/1", "laboratory")
	r := httptest.NewRequest("POST", base+"/Observation", strings.NewReader(body))
	w, seen := serve(t, a, grant("patient/Observation.c", "1"), r)
	if w.Code != http.StatusOK || seen == nil {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	d, ok := smartctx.DecisionFromContext(seen.Context())
	if !ok || d.Request().Interaction != scope.InteractionCreate || d.Limits().Patient != "1" || d.Limits().Context != scope.Patient {
		t.Fatalf("decision %+v", d)
	}
	if b, _ := io.ReadAll(seen.Body); string(b) != body {
		t.Fatalf("body not restored: %q", b)
	}
}

// TestHandlerSeesTheNarrowedSearch: by default a search under patient/
// scopes that does not name the patient reaches the handler narrowed to
// it, on a copy of the request.
func TestHandlerSeesTheNarrowedSearch(t *testing.T) {
	a := newAuthorizer(t, smartmw.Config{})
	r := httptest.NewRequest("GET", base+"/Observation?code=x", nil)
	w, seen := serve(t, a, grant("patient/Observation.rs", "1"), r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if got := seen.URL.Query().Get("patient"); got != "Patient/1" {
		t.Fatalf("patient = %q in %q", got, seen.URL.RawQuery)
	}
	if seen.RequestURI != "/fhir/Observation?code=x&patient=Patient%2F1" {
		t.Fatalf("RequestURI = %q", seen.RequestURI)
	}
	if r.URL.RawQuery != "code=x" {
		t.Fatal("the caller's request was changed")
	}
}

func TestHandlerDenial(t *testing.T) {
	a := newAuthorizer(t, smartmw.Config{Hooks: smartmw.Hooks{Realm: "ehr"}})
	w, seen := serve(t, a, grant("patient/Observation.r", "1"), httptest.NewRequest("GET", base+"/Observation?patient=1", nil))
	if seen != nil || w.Code != http.StatusForbidden {
		t.Fatalf("status %d", w.Code)
	}
	ch := w.Header().Get("WWW-Authenticate")
	for _, want := range []string{`Bearer realm="ehr"`, `error="insufficient_scope"`, `scope="patient/Observation.s"`} {
		if !strings.Contains(ch, want) {
			t.Errorf("challenge %q lacks %s", ch, want)
		}
	}
	var oo struct {
		ResourceType string
		Issue        []struct{ Code string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &oo); err != nil || oo.ResourceType != "OperationOutcome" || oo.Issue[0].Code != "forbidden" {
		t.Fatalf("body %s", w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/fhir+json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestHandlerNotFoundHidesExistence(t *testing.T) {
	a := newAuthorizer(t, smartmw.Config{FHIR: smartmw.FHIROptions{NotFoundForDenied: true}})
	w, _ := serve(t, a, grant("patient/Patient.r", "1"), httptest.NewRequest("GET", base+"/Patient/2", nil))
	if w.Code != http.StatusNotFound || w.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("status %d, challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if !strings.Contains(w.Body.String(), `"not-found"`) {
		t.Fatalf("body %s", w.Body)
	}
	// The same answer as for a resource that does not exist: nothing
	// about scopes or patients.
	if strings.Contains(w.Body.String(), "patient") || strings.Contains(w.Body.String(), "scope") {
		t.Fatalf("body leaks the reason: %s", w.Body)
	}
}

func TestHandlerOutsideBase(t *testing.T) {
	a := newAuthorizer(t, smartmw.Config{Base: "/fhir"})
	for _, target := range []string{"/other/Patient/1", "/fhirx/Patient/1", "/fhir/Patient/1/../../admin"} {
		w, seen := serve(t, a, grant("user/*.cruds", ""), httptest.NewRequest("GET", target, nil))
		if seen != nil || w.Code < 400 {
			t.Errorf("%s: status %d", target, w.Code)
		}
	}
}

func TestHandlerBodyTooLarge(t *testing.T) {
	a := newAuthorizer(t, smartmw.Config{Bounds: smartmw.Bounds{MaxBodyBytes: 100}})
	body := obs("Patient/1", strings.Repeat("x", 200))
	w, seen := serve(t, a, grant("user/*.cruds", ""), httptest.NewRequest("POST", base+"/Observation", strings.NewReader(body)))
	if seen != nil || w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", w.Code)
	}
}

func TestHandlerErrorHandler(t *testing.T) {
	var got error
	a := newAuthorizer(t, smartmw.Config{Hooks: smartmw.Hooks{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}}})
	w, _ := serve(t, a, grant("openid", ""), httptest.NewRequest("GET", base+"/Observation/1", nil))
	if w.Code != http.StatusTeapot || !errors.Is(got, smartmw.ErrInsufficientScope) {
		t.Fatalf("status %d, err %v", w.Code, got)
	}
}

func TestPolicy(t *testing.T) {
	var seen []smartmw.Request
	errNurse := errors.New("nurses may not delete")
	a := newAuthorizer(t, smartmw.Config{Policy: func(ctx context.Context, g *smartctx.Grant, req *smartmw.Request) error {
		seen = append(seen, *req)
		switch {
		case req.Context == scope.User && req.Interaction == scope.InteractionDelete:
			return errNurse
		case req.Context == scope.User && req.Type == "Patient" && req.ID == "locked":
			return &smartmw.Error{Status: http.StatusNotFound, Description: "resource not found"}
		}
		return nil
	}})
	g := grant("user/*.cruds", "")
	if _, err := a.Decide(context.Background(), g, httptest.NewRequest("GET", base+"/Observation/1", nil)); err != nil {
		t.Fatal(err)
	}
	_, err := a.Decide(context.Background(), g, httptest.NewRequest("DELETE", base+"/Observation/1", nil))
	var e *smartmw.Error
	if !errors.As(err, &e) || e.Status != 403 || !errors.Is(err, errNurse) {
		t.Fatalf("err = %v", err)
	}
	_, err = a.Decide(context.Background(), g, httptest.NewRequest("GET", base+"/Patient/locked", nil))
	if !errors.As(err, &e) || e.Status != 404 {
		t.Fatalf("err = %v", err)
	}
	if seen[0].Context != scope.User || seen[0].Type != "Observation" || seen[0].ID != "1" || seen[0].Interaction != scope.InteractionRead {
		t.Fatalf("policy saw %+v", seen[0])
	}
	// With the user/ decision refused by the policy, patient/ scopes
	// still allow the compartment.
	g = grant("user/*.cruds patient/Observation.d", "1")
	d, err := a.Decide(context.Background(), g, httptest.NewRequest("DELETE", base+"/Observation/1", nil))
	if err != nil || d.Limits().Context != scope.Patient || d.Limits().Patient != "1" {
		t.Fatalf("decision %+v, %v", d, err)
	}
}

func TestRequestParams(t *testing.T) {
	var got url.Values
	a := newAuthorizer(t, smartmw.Config{Policy: func(ctx context.Context, g *smartctx.Grant, req *smartmw.Request) error {
		got = req.Params()
		return nil
	}})
	r := httptest.NewRequest("POST", base+"/Observation/_search?code=a%7Cb", strings.NewReader("patient=1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := a.Decide(context.Background(), grant("user/*.rs", ""), r); err != nil {
		t.Fatal(err)
	}
	if got.Get("code") != "a|b" || got.Get("patient") != "1" {
		t.Fatalf("params %v", got)
	}
}

func TestNewAuthorizerBase(t *testing.T) {
	for _, b := range []string{"", "fhir", "https://x/fhir?a=1", "https:///fhir", "/fhir#x", "::"} {
		if _, err := newAuthz(smartmw.Config{Base: b}); err == nil {
			t.Errorf("Base %q accepted", b)
		}
	}
	for _, b := range []string{"/", "/fhir", "/fhir/", "https://x", "https://x/fhir/r4/"} {
		if _, err := newAuthz(smartmw.Config{Base: b}); err != nil {
			t.Errorf("Base %q: %v", b, err)
		}
	}
}

// FuzzDecide: no panic, and whatever is allowed under patient/ scopes is
// limited to the patient in context.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{"Observation?patient=1", "Patient/1", "Patient/2", "Patient/1/Observation", "Observation/5",
		"?_type=Observation", "Patient/1/$everything", "Observation?subject=Patient/1,Patient/2", "Observation/_history",
		"Observation?patient=1&_include=x", "Encounter/1/Observation?patient=1"} {
		f.Add("GET", s)
	}
	a := newAuthorizer(f, smartmw.Config{Base: "/fhir"})
	g := grant("patient/*.cruds patient/Medication.rs", "1")
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.Parse("/fhir/" + target)
		if err != nil || !validMethod(method) {
			return
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}, Body: http.NoBody}
		d, err := a.Decide(context.Background(), g, r)
		if err != nil {
			return
		}
		if d.Limits().Context != scope.Patient && d.Request().Interaction != scope.InteractionCapabilities {
			t.Fatalf("allowed outside patient/ scopes: %+v", d)
		}
		if d.Request().Type != "Medication" && d.Request().Interaction != scope.InteractionCapabilities && d.Limits().Patient != "1" {
			t.Fatalf("allowed without the compartment: %q %+v", target, d)
		}
		if d.Request().Type == "Patient" && d.Request().ID != "" && d.Request().ID != "1" {
			t.Fatalf("another Patient allowed: %q", target)
		}
		if d.Request().Interaction == scope.InteractionSearchType && d.Request().Type != "Medication" && !strings.HasPrefix(target, "Patient/1/") && !independentlyRestricted(d) {
			t.Fatalf("search not limited to the patient: %q → %q", target, d.Request().Query)
		}
		q, _ := url.ParseQuery(d.Request().Query)
		for name := range q {
			if name, _, _ := strings.Cut(name, ":"); (name == "_include" || name == "_revinclude") && !d.Limits().Includes {
				t.Fatalf("an include not left to the response guard: %q", target)
			}
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

// independentlyRestricted re-checks, with net/url, that a search names
// patient 1 in a parameter every value of which is that patient.
func independentlyRestricted(d *smartctx.Decision) bool {
	q, err := url.ParseQuery(d.Request().Query)
	if err != nil {
		return false
	}
	for name, values := range q {
		base, mod, _ := strings.Cut(name, ":")
		if mod != "" && mod != "Patient" || base == "_id" && d.Request().Type != "Patient" {
			continue
		}
		for _, v := range values {
			all := v != ""
			for _, one := range strings.Split(v, ",") {
				all = all && (one == "Patient/1" || one == "1" && (base == "patient" || base == "_id" || mod == "Patient") || one == "https://ehr.example.org/fhir/Patient/1")
			}
			if all && base != "" && !strings.HasPrefix(base, "_") || all && base == "_id" {
				return true
			}
		}
	}
	return false
}
