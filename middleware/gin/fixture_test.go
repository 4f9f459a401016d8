package smartgin_test

import (
	encjson "encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// audience is the FHIR base URL the tests serve, under /fhir.
const audience = "https://fhir.example.org/fhir"

// appOrigin is the browser app allowed by CORS.
const appOrigin = "https://app.example.org"

func init() { gin.SetMode(gin.TestMode) }

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

// writeStyle answers status and body the way one kind of gin handler does.
type writeStyle struct {
	name  string
	write func(c *gin.Context, status int, body string)
}

// writeStyles are the ways a gin handler writes a response.
var writeStyles = []writeStyle{
	{"c.JSON", func(c *gin.Context, status int, body string) { c.JSON(status, encjson.RawMessage(body)) }},
	{"c.Data", func(c *gin.Context, status int, body string) {
		c.Data(status, "application/fhir+json", []byte(body))
	}},
	{"c.String", func(c *gin.Context, status int, body string) { c.String(status, "%s", body) }},
	{"c.Status then c.Writer.WriteHeaderNow and Write", func(c *gin.Context, status int, body string) {
		c.Header("Content-Type", "application/fhir+json")
		c.Status(status)
		c.Writer.WriteHeaderNow()
		c.Writer.Write([]byte(body))
	}},
	{"c.Writer.WriteString in pieces with Flush", func(c *gin.Context, status int, body string) {
		c.Status(status)
		for len(body) > 0 {
			n := min(len(body), 16)
			c.Writer.WriteString(body[:n])
			c.Writer.Flush()
			body = body[n:]
		}
	}},
	{"c.Stream", func(c *gin.Context, status int, body string) {
		c.Status(status)
		c.Stream(func(w io.Writer) bool {
			n := min(len(body), 16)
			w.Write([]byte(body[:n]))
			body = body[n:]
			return len(body) > 0
		})
	}},
	{"c.AbortWithStatusJSON", func(c *gin.Context, status int, body string) {
		c.AbortWithStatusJSON(status, encjson.RawMessage(body))
	}},
	{"gin.WrapH of a net/http handler", func(c *gin.Context, status int, body string) {
		gin.WrapH(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))(c)
	}},
}

// notFound answers a missing resource as the Guard answers one it
// refuses with Config.NotFoundForDenied.
func notFound(c *gin.Context) {
	smartmw.WriteError(c.Writer, smartmw.DefaultRealm, &smartmw.Error{Status: http.StatusNotFound, Description: "resource not found"})
}

// leakyAPI registers, on a group behind Protect, FHIR handlers that
// ignore the grant: they serve and change any patient's resources.
func leakyAPI(fhir gin.IRoutes, style writeStyle, k *calls) {
	read := func(c *gin.Context) {
		key := strings.TrimPrefix(c.FullPath(), "/fhir/")
		key = key[:strings.IndexByte(key, '/')] + "/" + c.Param("id")
		k.add(c.Request.Method + " " + key)
		body, ok := resources[key]
		if !ok {
			notFound(c)
			return
		}
		c.Header("ETag", `W/"1"`)
		style.write(c, http.StatusOK, body)
	}
	fhir.GET("/Patient/:id", read)
	fhir.GET("/Observation/:id", read)
	fhir.HEAD("/Observation/:id", read)
	fhir.GET("/Condition/:id", read)
	fhir.GET("/Observation", func(c *gin.Context) {
		k.add("search Observation")
		style.write(c, http.StatusOK, everyObservation)
	})
	fhir.PUT("/Observation/:id", func(c *gin.Context) {
		k.add("PUT Observation/" + c.Param("id") + " If-Match " + c.GetHeader("If-Match"))
		body, _ := c.GetRawData()
		style.write(c, http.StatusOK, string(body))
	})
	fhir.DELETE("/Observation/:id", func(c *gin.Context) {
		k.add("DELETE Observation/" + c.Param("id"))
		c.Status(http.StatusNoContent)
	})
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
	w := newRecorder()
	h.ServeHTTP(closeNotifier{w}, r)
	return w
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// json returns s as JSON to render as it is.
func json(s string) encjson.RawMessage { return encjson.RawMessage(s) }

// equal reports whether two traces are equal.
func equal(a, b []any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// closeNotifier gives a ResponseRecorder the CloseNotify of a real
// server's writer, which gin's c.Stream needs.
type closeNotifier struct{ *httptest.ResponseRecorder }

func (closeNotifier) CloseNotify() <-chan bool { return nil }

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
	if err := encjson.Unmarshal(body, &b); err != nil {
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
