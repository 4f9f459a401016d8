package smartecho_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// audience is the FHIR base URL the tests serve, under /fhir.
const audience = "https://fhir.example.org/fhir"

// appOrigin is the browser app allowed by CORS.
const appOrigin = "https://app.example.org"

// The resources the leaky API serves: patients 123 and 456, and one
// Observation of each.
func patient(id string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","id":%q}`, id)
}

func observation(id, patient string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"text":"glucose"},"subject":{"reference":"Patient/%s"}}`, id, patient)
}

var resources = map[string]string{
	"Patient/123":         patient("123"),
	"Patient/456":         patient("456"),
	"Observation/obs-123": observation("obs-123", "123"),
	"Observation/obs-456": observation("obs-456", "456"),
	"Condition/cond-123":  `{"resourceType":"Condition","id":"cond-123","subject":{"reference":"Patient/123"}}`,
}

// everyObservation is a searchset of every patient's Observations, what a
// handler that ignores the grant answers to any Observation search.
var everyObservation = `{"resourceType":"Bundle","type":"searchset","total":2,"entry":[` +
	`{"fullUrl":"` + audience + `/Observation/obs-123","resource":` + resources["Observation/obs-123"] + `,"search":{"mode":"match"}},` +
	`{"fullUrl":"` + audience + `/Observation/obs-456","resource":` + resources["Observation/obs-456"] + `,"search":{"mode":"match"}}]}`

// calls records what the leaky API's handlers did.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (k *calls) add(s string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.log = append(k.log, s)
}

func (k *calls) has(s string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Contains(k.log, s)
}

func (k *calls) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return strings.Join(k.log, ", ")
}

// writeStyle answers status and body the way one kind of echo handler does.
type writeStyle struct {
	name  string
	write func(c echo.Context, status int, body string) error
}

// errAfterWriting is what a handler returns after it answered.
var errAfterWriting = errors.New("the handler failed after it answered")

// writeStyles are the ways an echo handler writes a response.
var writeStyles = []writeStyle{
	{"c.JSON", func(c echo.Context, status int, body string) error { return c.JSON(status, json.RawMessage(body)) }},
	{"c.Blob", func(c echo.Context, status int, body string) error {
		return c.Blob(status, "application/fhir+json", []byte(body))
	}},
	{"c.String", func(c echo.Context, status int, body string) error { return c.String(status, body) }},
	{"c.Stream", func(c echo.Context, status int, body string) error {
		return c.Stream(status, "application/fhir+json", strings.NewReader(body))
	}},
	{"c.Response().WriteHeader and Write", func(c echo.Context, status int, body string) error {
		c.Response().Header().Set("Content-Type", "application/fhir+json")
		c.Response().WriteHeader(status)
		_, err := c.Response().Write([]byte(body))
		return err
	}},
	{"c.Response().Write in pieces with Flush", func(c echo.Context, status int, body string) error {
		c.Response().WriteHeader(status)
		for len(body) > 0 {
			n := min(len(body), 16)
			c.Response().Write([]byte(body[:n]))
			c.Response().Flush()
			body = body[n:]
		}
		return nil
	}},
	{"an error returned after c.Blob", func(c echo.Context, status int, body string) error {
		c.Blob(status, "application/fhir+json", []byte(body))
		return errAfterWriting
	}},
	{"echo.WrapHandler of a net/http handler", func(c echo.Context, status int, body string) error {
		return echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))(c)
	}},
}

// notFound answers a missing resource as the Guard answers one it
// refuses with Config.NotFoundForDenied.
func notFound(c echo.Context) error {
	smartmw.WriteError(c.Response(), smartmw.DefaultRealm, &smartmw.Error{Status: http.StatusNotFound, Description: "resource not found"})
	return nil
}

// router is what *echo.Echo and *echo.Group have in common.
type router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	HEAD(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	PUT(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	DELETE(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// leakyAPI registers, on a group behind Protect, FHIR handlers that
// ignore the grant: they serve and change any patient's resources.
func leakyAPI(fhir router, style writeStyle, k *calls) {
	read := func(c echo.Context) error {
		key := strings.TrimPrefix(c.Path(), "/fhir/")
		key = key[:strings.IndexByte(key, '/')] + "/" + c.Param("id")
		k.add(c.Request().Method + " " + key)
		body, ok := resources[key]
		if !ok {
			return notFound(c)
		}
		c.Response().Header().Set("ETag", `W/"1"`)
		return style.write(c, http.StatusOK, body)
	}
	fhir.GET("/Patient/:id", read)
	fhir.GET("/Observation/:id", read)
	fhir.HEAD("/Observation/:id", read)
	fhir.GET("/Condition/:id", read)
	fhir.GET("/Observation", func(c echo.Context) error {
		k.add("search Observation")
		return style.write(c, http.StatusOK, everyObservation)
	})
	fhir.PUT("/Observation/:id", func(c echo.Context) error {
		k.add("PUT Observation/" + c.Param("id") + " If-Match " + c.Request().Header.Get("If-Match"))
		var body json.RawMessage
		if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
			return err
		}
		return style.write(c, http.StatusOK, string(body))
	})
	fhir.DELETE("/Observation/:id", func(c echo.Context) error {
		k.add("DELETE Observation/" + c.Param("id"))
		return c.NoContent(http.StatusNoContent)
	})
}

// newEcho returns a quiet Echo.
func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.Logger.SetOutput(io.Discard)
	return e
}

// newGuard returns an Issuer and a Guard trusting it for audience, with
// cfg changed by each of change.
func newGuard(t *testing.T, change ...func(*smartmw.Config)) (*smarttest.Issuer, *smartmw.Guard) {
	t.Helper()
	is := smarttest.NewIssuer(t, smarttest.ForAudience(audience))
	cfg := is.Config()
	cfg.AllowedOrigins = []string{appOrigin}
	for _, f := range change {
		f(&cfg)
	}
	g, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return is, g
}

// patientToken returns a token of patient 123 with scopes.
func patientToken(t *testing.T, is *smarttest.Issuer, scopes string) string {
	t.Helper()
	return is.Token(t, smarttest.Scopes("launch/patient "+scopes), smarttest.Patient("123"))
}

// do sends method target (with body, when not empty) and the token, when
// not empty, to h.
func do(h http.Handler, method, target, token, body string) *httptest.ResponseRecorder {
	return serve(h, newRequest(method, target, token, body))
}

// newRequest returns a request for method target with the token and the
// body, when not empty.
func newRequest(method, target, token, body string) *http.Request {
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

// serve answers r with h.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
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
