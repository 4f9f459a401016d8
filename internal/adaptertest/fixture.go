package adaptertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// Audience is the FHIR base URL the tests serve, under /fhir.
const Audience = "https://fhir.example.org/fhir"

// AppOrigin is the browser app allowed by CORS.
const AppOrigin = "https://app.example.org"

// The resources the API serves: patients 123 and 456, and one
// Observation of each.
func patient(id string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","id":%q}`, id)
}

// Observation returns the Observation id of patient.
func Observation(id, patient string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"text":"glucose"},"subject":{"reference":"Patient/%s"}}`, id, patient)
}

var resources = map[string]string{
	"Patient/123":         patient("123"),
	"Patient/456":         patient("456"),
	"Observation/obs-123": Observation("obs-123", "123"),
	"Observation/obs-456": Observation("obs-456", "456"),
	"Condition/cond-123":  `{"resourceType":"Condition","id":"cond-123","subject":{"reference":"Patient/123"}}`,
}

// Resource returns the stored resource of key ("Observation/obs-456"),
// or "".
func Resource(key string) string { return resources[key] }

// everyObservation is a searchset of every patient's Observations, what a
// handler that ignores the grant answers to any Observation search.
var everyObservation = `{"resourceType":"Bundle","type":"searchset","total":2,"entry":[` +
	`{"fullUrl":"` + Audience + `/Observation/obs-123","resource":` + resources["Observation/obs-123"] + `,"search":{"mode":"match"}},` +
	`{"fullUrl":"` + Audience + `/Observation/obs-456","resource":` + resources["Observation/obs-456"] + `,"search":{"mode":"match"}}]}`

// leaks reports whether body holds anything of patient 456: the id of
// the Patient, its Observation, a reference to it. (Not any "456": the
// discovery document holds the fake issuer's random port.)
func leaks(body string) bool {
	return strings.Contains(body, `"456"`) || strings.Contains(body, "obs-456") || strings.Contains(body, "Patient/456")
}

// FHIR is a FHIR API whose handlers ignore the grant: they serve and
// change any patient's resources. It records what its handlers did, as
// "GET Observation/obs-123", "search Observation",
// `PUT Observation/obs-123 If-Match W/"1"` or "DELETE Observation/obs-123".
// Its zero value is ready to use.
type FHIR struct {
	mu    sync.Mutex
	calls []string
}

// Routes are the API's routes under its base: reads of Patient,
// Observation and Condition by id, the Observation search, the update and
// delete of an Observation, and a HEAD route of an Observation by id,
// which records "HEAD route" first: it must never run, as the GET route
// answers a HEAD.
func (a *FHIR) Routes() []Route {
	readObservation := a.Read("Observation")
	return []Route{
		{Method: http.MethodGet, Path: "/Patient/:id", Handle: a.Read("Patient")},
		{Method: http.MethodGet, Path: "/Observation/:id", Handle: readObservation},
		{Method: http.MethodHead, Path: "/Observation/:id", Handle: func(c Ctx) error {
			a.Record("HEAD route")
			return readObservation(c)
		}},
		{Method: http.MethodGet, Path: "/Condition/:id", Handle: a.Read("Condition")},
		{Method: http.MethodGet, Path: "/Observation", Handle: a.SearchObservations},
		{Method: http.MethodPut, Path: "/Observation/:id", Handle: a.UpdateObservation},
		{Method: http.MethodDelete, Path: "/Observation/:id", Handle: a.DeleteObservation},
	}
}

// Read returns the read by id of resources of type typ: the stored
// resource with an ETag, or a 404 OperationOutcome written as the Guard
// writes one it refuses with Config.FHIR.NotFoundForDenied.
func (a *FHIR) Read(typ string) Handler {
	return func(c Ctx) error {
		key := typ + "/" + c.Param("id")
		a.Record(c.Request().Method + " " + key)
		body, ok := resources[key]
		if !ok {
			smartmw.WriteError(c.Writer(), smartmw.DefaultRealm, &smartmw.Error{Status: http.StatusNotFound, Description: "resource not found"})
			return nil
		}
		c.Writer().Header().Set("ETag", `W/"1"`)
		return c.Respond(http.StatusOK, body)
	}
}

// SearchObservations answers every patient's Observations.
func (a *FHIR) SearchObservations(c Ctx) error {
	a.Record("search Observation")
	return c.Respond(http.StatusOK, everyObservation)
}

// UpdateObservation answers the resource it is sent.
func (a *FHIR) UpdateObservation(c Ctx) error {
	a.Record("PUT Observation/" + c.Param("id") + " If-Match " + c.Request().Header.Get("If-Match"))
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	return c.Respond(http.StatusOK, string(body))
}

// DeleteObservation answers 204.
func (a *FHIR) DeleteObservation(c Ctx) error {
	a.Record("DELETE Observation/" + c.Param("id"))
	return c.NoContent(http.StatusNoContent)
}

// Record adds call to what the handlers did.
func (a *FHIR) Record(call string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call)
}

// Calls returns what the handlers did, in order.
func (a *FHIR) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// NewGuard returns an Issuer and a Guard trusting it for Audience, with
// AppOrigin allowed and the Config changed by each of change.
func NewGuard(t *testing.T, change ...func(*smartmw.Config)) (*smarttest.Issuer, *smartmw.Guard) {
	t.Helper()
	is := smarttest.NewIssuer(t, smarttest.ForAudience(Audience))
	cfg := is.Config()
	cfg.AllowedOrigins = []string{AppOrigin}
	for _, f := range change {
		f(&cfg)
	}
	g, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return is, g
}

// PatientToken returns a token of patient 123 with scopes (and
// launch/patient).
func PatientToken(t *testing.T, is *smarttest.Issuer, scopes string) string {
	t.Helper()
	return is.Token(t, smarttest.Scopes("launch/patient "+scopes), smarttest.Patient("123"))
}

// Request returns a request for method target with the token and the
// FHIR JSON body, when not empty.
func Request(method, target, token, body string) *http.Request {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/fhir+json")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// Serve answers r with h.
func Serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	serveTo(w, h, r)
	return w
}

// serveTo answers r with h on w, a writer that has, as a real server's
// does, the CloseNotify gin's c.Stream calls.
func serveTo(w *httptest.ResponseRecorder, h http.Handler, r *http.Request) {
	h.ServeHTTP(closeNotifier{w}, r)
}

type closeNotifier struct{ *httptest.ResponseRecorder }

func (closeNotifier) CloseNotify() <-chan bool { return nil }

// Case is a request and what it must be answered.
type Case struct {
	Name           string
	Method, Target string
	Host           string // the request's Host, when not empty
	Token          string
	// Origin makes the request a CORS preflight from Origin of a GET
	// with an Authorization header.
	Origin     string
	Body       string // a FHIR JSON request body
	WantStatus int
	WantIn     string   // a string the body must hold
	WantIDs    []string // the ids of the matches of a searchset answered
	// WantCalls are the calls the API's handlers make for the request,
	// in order (none when empty), checked when RunCases has the API.
	WantCalls []string
	// WantChallenge is a string a 401's WWW-Authenticate must hold,
	// beyond the Bearer scheme.
	WantChallenge string
}

// request returns tc's request.
func (tc Case) request() *http.Request {
	r := Request(tc.Method, tc.Target, tc.Token, tc.Body)
	if tc.Host != "" {
		r.Host = tc.Host
	}
	if tc.Origin != "" {
		r.Header.Set("Origin", tc.Origin)
		r.Header.Set("Access-Control-Request-Method", "GET")
		r.Header.Set("Access-Control-Request-Headers", "authorization")
	}
	return r
}

// check checks w, what tc was answered. Whatever the case, nothing of
// patient 456 may be answered, and a refusal carries no ETag of a
// handler.
func (tc Case) check(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	body := w.Body.String()
	if w.Code != tc.WantStatus || !strings.Contains(body, tc.WantIn) {
		t.Errorf("%s %s: %d %s, want %d with %s", tc.Method, tc.Target, w.Code, body, tc.WantStatus, tc.WantIn)
	}
	if leaks(body) {
		t.Errorf("the answer leaks patient 456: %s", body)
	}
	if w.Code >= 400 && w.Header().Get("ETag") != "" {
		t.Errorf("a refusal carries the handler's ETag: %v", w.Header())
	}
	if tc.WantIDs != nil {
		if ids := entryIDs(t, w.Body.Bytes()); !slices.Equal(ids, tc.WantIDs) {
			t.Errorf("entries %v, want %v", ids, tc.WantIDs)
		}
	}
	if got := w.Header().Get("Access-Control-Allow-Origin"); tc.Origin != "" && got != tc.Origin && got != "*" {
		t.Errorf("preflight: Access-Control-Allow-Origin %q, want %q", got, tc.Origin)
	}
	if challenge := w.Header().Get("WWW-Authenticate"); w.Code == http.StatusUnauthorized &&
		(!strings.HasPrefix(challenge, "Bearer ") || !strings.Contains(challenge, tc.WantChallenge)) {
		t.Errorf("401 with the challenge %q, want Bearer with %s", challenge, tc.WantChallenge)
	}
}

// RunCases sends each case to h, as a subtest, and checks its answer.
// When api is not nil, it checks the calls of api's handlers too.
func RunCases(t *testing.T, h http.Handler, api *FHIR, tests []Case) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.Name, func(t *testing.T) {
			var before int
			if api != nil {
				before = len(api.Calls())
			}
			tc.check(t, Serve(h, tc.request()))
			if api != nil {
				if calls := api.Calls()[before:]; !slices.Equal(calls, tc.WantCalls) {
					t.Errorf("the handlers' calls %q, want %q", calls, tc.WantCalls)
				}
			}
		})
	}
}

// entryIDs returns the ids of the resources a searchset matches (not
// the outcome entry the Guard adds when it withholds entries).
func entryIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct{ ID string }   `json:"resource"`
			Search   struct{ Mode string } `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("not a Bundle: %v: %s", err, body)
	}
	ids := []string{}
	for _, e := range b.Entry {
		if e.Search.Mode == "match" {
			ids = append(ids, e.Resource.ID)
		}
	}
	return ids
}
