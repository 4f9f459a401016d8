package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// fakeIntrospection is an RFC 7662 endpoint on httptest: it answers each
// token with the JSON set for it ({"active":false} otherwise).
type fakeIntrospection struct {
	srv      *httptest.Server
	mu       sync.Mutex
	answers  map[string]string
	status   int           // when set, answered instead
	delay    time.Duration // before answering
	gate     chan struct{} // when set, every call waits for it to close
	calls    atomic.Int32
	inflight atomic.Int32
	maxIn    atomic.Int32
	lastReq  *http.Request
	lastForm map[string][]string
}

func newFakeIntrospection(t testing.TB) *fakeIntrospection {
	t.Helper()
	f := &fakeIntrospection{answers: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		n := f.inflight.Add(1)
		defer f.inflight.Add(-1)
		for {
			m := f.maxIn.Load()
			if n <= m || f.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.lastReq, f.lastForm = r, r.PostForm
		body, ok := f.answers[r.PostForm.Get("token")]
		status, delay, gate := f.status, f.delay, f.gate
		f.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if !ok {
			body = `{"active":false}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIntrospection) url() string { return f.srv.URL + "/introspect" }

func (f *fakeIntrospection) set(token string, answer any) {
	b, ok := answer.(string)
	if !ok {
		j, err := json.Marshal(answer)
		if err != nil {
			panic(err)
		}
		b = string(j)
	}
	f.mu.Lock()
	f.answers[token] = b
	f.mu.Unlock()
}

// activeAnswer is a SMART introspection answer for a patient app.
func activeAnswer(is *smarttest.Issuer) map[string]any {
	return map[string]any{
		"active": true, "scope": "launch/patient patient/Observation.rs", "client_id": "app-1",
		"exp": testNow.Add(time.Hour).Unix(), "iat": testNow.Add(-time.Minute).Unix(), "sub": "alice",
		"aud": testAudience, "iss": is.URL(), "patient": "123", "token_type": "Bearer",
	}
}

// newIntrospecting returns a Guard whose Issuer introspects its tokens at
// f, on the fixed clock, after adjust.
func newIntrospecting(t testing.TB, is *smarttest.Issuer, f *fakeIntrospection, adjust func(*smartmw.Config)) *smartmw.Guard {
	return newGuard(t, is, func(c *smartmw.Config) {
		c.Issuer.Format = smartmw.TokensJWTOrIntrospect
		c.Issuer.Introspection = smartmw.Introspection{Endpoint: f.url(), ClientID: "fhir-server", ClientSecret: "s3cret"}
		c.Hooks.Logger = slog.New(&recordLog{})
		if adjust != nil {
			adjust(c)
		}
	})
}

// searchWith serves GET /r4/Observation?patient=123 with tok through h.
func searchWith(h http.Handler, tok string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// emptyBundle answers every request with an empty searchset.
var emptyBundle = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`))
})

// TestIntrospectionAnswers: what an introspection answer must hold for
// the request to pass, and what the client is told otherwise.
func TestIntrospectionAnswers(t *testing.T) {
	is := newIssuer(t)
	with := func(change func(map[string]any)) map[string]any {
		a := activeAnswer(is)
		change(a)
		return a
	}
	tests := []struct {
		name   string
		answer any
		status int // of the endpoint, when not 200
		adjust func(*smartmw.Config)
		want   int    // status of the FHIR request
		desc   string // error_description, for 401
	}{
		{name: "active", answer: activeAnswer(is), want: 200},
		{name: "no iss, aud array", answer: with(func(a map[string]any) { delete(a, "iss"); a["aud"] = []any{"x", testAudience} }), want: 200},
		{name: "Ory Hydra shape, ext via claim paths", answer: map[string]any{
			"active": true, "client_id": "app-1", "exp": testNow.Add(time.Hour).Unix(), "iat": testNow.Unix(), "nbf": testNow.Unix(),
			"iss": is.URL(), "aud": []any{testAudience}, "scope": "launch/patient patient/Observation.rs", "sub": "alice",
			"token_type": "Bearer", "token_use": "access_token", "ext": map[string]any{"patient": "123", "fhirUser": "Patient/123"},
		}, adjust: func(c *smartmw.Config) {
			c.Issuer.Claims.Patient = []string{"ext.patient"}
			c.Issuer.Claims.FHIRUser = []string{"ext.fhirUser"}
		}, want: 200},
		{name: "inactive", answer: `{"active":false}`, want: 401, desc: "token not active"},
		{name: "active as a string", answer: with(func(a map[string]any) { a["active"] = "true" }), want: 401, desc: "token not active"},
		{name: "no exp", answer: with(func(a map[string]any) { delete(a, "exp") }), want: 401, desc: "token claims invalid"},
		{name: "expired", answer: with(func(a map[string]any) { a["exp"] = testNow.Add(-time.Hour).Unix() }), want: 401, desc: "token expired"},
		{name: "not yet valid", answer: with(func(a map[string]any) { a["nbf"] = testNow.Add(time.Hour).Unix() }), want: 401, desc: "token not yet valid"},
		{name: "another issuer", answer: with(func(a map[string]any) { a["iss"] = "https://evil.example.org" }), want: 401, desc: "untrusted issuer"},
		{name: "another audience", answer: with(func(a map[string]any) { a["aud"] = "https://other.example.org/fhir" }), want: 401, desc: "token not issued for this server"},
		{name: "no audience", answer: with(func(a map[string]any) { delete(a, "aud") }), want: 401, desc: "token not issued for this server"},
		{name: "no audience, SkipMissingAudience", answer: with(func(a map[string]any) { delete(a, "aud") }),
			adjust: func(c *smartmw.Config) { c.Issuer.Introspection.SkipMissingAudience = true }, want: 200},
		{name: "refresh token", answer: with(func(a map[string]any) { a["token_use"] = "refresh_token" }), want: 401, desc: "not an access token"},
		{name: "DPoP-bound", answer: with(func(a map[string]any) { a["token_type"] = "DPoP" }), want: 401, desc: "not an access token"},
		{name: "token_type bearer, lower case", answer: with(func(a map[string]any) { a["token_type"] = "bearer" }), want: 200},
		{name: "token_type of another kind", answer: with(func(a map[string]any) { a["token_type"] = "N_A" }), want: 401, desc: "not an access token"},
		// token_type Bearer beside a cnf binding is inconsistent (SPEC 103).
		{name: "cnf-bound", answer: with(func(a map[string]any) { a["cnf"] = map[string]any{"jkt": "x"} }), want: 401, desc: "not an access token"},
		{name: "cnf-bound, no token_type", answer: with(func(a map[string]any) { delete(a, "token_type"); a["cnf"] = map[string]any{"jkt": "x"} }), want: 401, desc: "token claims invalid"},
		{name: "no client_id", answer: with(func(a map[string]any) { delete(a, "client_id") }), want: 401, desc: "token claims invalid"},
		{name: "no scope", answer: with(func(a map[string]any) { delete(a, "scope") }), want: 401, desc: "token claims invalid"},
		{name: "bad patient", answer: with(func(a map[string]any) { a["patient"] = "a/b" }), want: 401, desc: "patient is not an id, Patient/[id] or its URL here"},
		{name: "another patient's search", answer: with(func(a map[string]any) { a["patient"] = "456" }), want: 403},
		{name: "SMART's example answer, trailing comma", answer: `{"active": true, "scope": "patient/*.read", "client_id": "app-1", "exp": 9999999999, "patient": "123",}`, want: 503},
		{name: "not an object", answer: `[true]`, want: 503},
		{name: "endpoint error", status: 500, want: 503},
		{name: "our credentials refused", status: 401, want: 503},
		{name: "redirect not followed", status: 307, want: 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIntrospection(t)
			f.status = tc.status
			if tc.answer != nil {
				f.set("opaque-token", tc.answer)
			}
			m := newIntrospecting(t, is, f, tc.adjust)
			reached := false
			rec := searchWith(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				emptyBundle(w, r)
			})), "opaque-token")
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s %s", rec.Code, tc.want, rec.Header().Get("WWW-Authenticate"), rec.Body)
			}
			if reached != (tc.want == 200) {
				t.Errorf("handler reached: %v", reached)
			}
			switch tc.want {
			case 401:
				if w := rec.Header().Get("WWW-Authenticate"); !strings.Contains(w, `error="invalid_token"`) || !strings.Contains(w, `error_description="`+tc.desc+`"`) {
					t.Errorf("challenge %q, want invalid_token %q", w, tc.desc)
				}
			case 503:
				if rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"transient"`) {
					t.Errorf("503 without Retry-After or OperationOutcome: %v %s", rec.Header(), rec.Body)
				}
			}
		})
	}
}

// TestIntrospectionGrant: the launch context, fhirUser, scopes and client
// come from the answer.
func TestIntrospectionGrant(t *testing.T) {
	is := newIssuer(t)
	f := newFakeIntrospection(t)
	a := activeAnswer(is)
	a["fhirUser"] = "Patient/123"
	a["encounter"] = "e1"
	a["need_patient_banner"] = true
	f.set("opaque-token", a)
	m := newIntrospecting(t, is, f, nil)
	g, err := m.Verify(context.Background(), "opaque-token")
	if err != nil {
		t.Fatal(err)
	}
	if g.Patient() != "123" || g.FHIRUser() != "Patient/123" || g.Encounter() != "e1" || !g.NeedPatientBanner() ||
		g.ClientID() != "app-1" || g.Subject() != "alice" || g.Issuer() != is.URL() || !g.Scopes().Has("patient/Observation.rs") {
		t.Errorf("grant %+v", g)
	}
	if !g.ExpiresAt().Equal(time.Unix(testNow.Add(time.Hour).Unix(), 0)) {
		t.Errorf("expires %v", g.ExpiresAt())
	}
}

// TestIntrospectionClientAuthentication: how the Guard authenticates to
// the endpoint, and what it sends.
func TestIntrospectionClientAuthentication(t *testing.T) {
	is := newIssuer(t)
	tests := []struct {
		name  string
		in    smartmw.Introspection
		check func(t *testing.T, r *http.Request, form map[string][]string)
	}{
		{"client_secret_basic, form-encoded", smartmw.Introspection{ClientID: "fhir server", ClientSecret: "s:e/c%r"},
			func(t *testing.T, r *http.Request, form map[string][]string) {
				id, secret, ok := r.BasicAuth()
				if !ok || id != "fhir+server" || secret != "s%3Ae%2Fc%25r" {
					t.Errorf("basic auth %q %q %v", id, secret, ok)
				}
				if form["client_secret"] != nil {
					t.Error("secret in the body too")
				}
			}},
		{"client_secret_post", smartmw.Introspection{Auth: smartmw.IntrospectionClientSecretPost, ClientID: "fhir", ClientSecret: "s3cret"},
			func(t *testing.T, r *http.Request, form map[string][]string) {
				if r.Header.Get("Authorization") != "" || fmt.Sprint(form["client_id"], form["client_secret"]) != "[fhir] [s3cret]" {
					t.Errorf("auth %q, form %v", r.Header.Get("Authorization"), form)
				}
			}},
		{"bearer", smartmw.Introspection{BearerToken: func(context.Context) (string, error) { return "rs-token", nil }},
			func(t *testing.T, r *http.Request, form map[string][]string) {
				if r.Header.Get("Authorization") != "Bearer rs-token" {
					t.Errorf("auth %q", r.Header.Get("Authorization"))
				}
			}},
		{"none", smartmw.Introspection{Auth: smartmw.IntrospectionNone},
			func(t *testing.T, r *http.Request, form map[string][]string) {
				if r.Header.Get("Authorization") != "" || form["client_id"] != nil {
					t.Errorf("credentials sent: %q %v", r.Header.Get("Authorization"), form)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIntrospection(t)
			f.set("opaque-token", activeAnswer(is))
			m := newIntrospecting(t, is, f, func(c *smartmw.Config) {
				tc.in.Endpoint = f.url()
				c.Issuer.Introspection = tc.in
			})
			if _, err := m.Verify(context.Background(), "opaque-token"); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			r, form := f.lastReq, f.lastForm
			f.mu.Unlock()
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
				fmt.Sprint(form["token"], form["token_type_hint"]) != "[opaque-token] [access_token]" {
				t.Errorf("%s %q %v", r.Method, r.Header.Get("Content-Type"), form)
			}
			tc.check(t, r, form)
		})
	}
}

// TestIntrospectionEndpointFromMetadata: without Endpoint, the issuer's
// metadata names it; without one there, New fails.
func TestIntrospectionEndpointFromMetadata(t *testing.T) {
	is := newIssuer(t)
	f := newFakeIntrospection(t)
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	f.set("opaque-token", withIss(jwt.MapClaims(activeAnswer(is)), as.issuer()))
	cfg := func() smartmw.Config {
		return smartmw.Config{Issuer: smartmw.Issuer{
			URL:           as.issuer(),
			Audience:      testAudience,
			Format:        smartmw.TokensIntrospect,
			Introspection: smartmw.Introspection{Auth: smartmw.IntrospectionNone},
		}, Tokens: smartmw.TokenOptions{Now: fixedNow}, Hooks: smartmw.Hooks{Logger: slog.New(&recordLog{})}}
	}
	if _, err := smartmw.New(t.Context(), cfg()); err == nil || !strings.Contains(err.Error(), "introspection_endpoint") {
		t.Fatalf("New without an endpoint anywhere: %v", err)
	}
	as.introspection = f.url()
	m, err := smartmw.New(t.Context(), cfg())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(context.Background(), "opaque-token"); err != nil {
		t.Fatal(err)
	}
	if as.jwksHits.Load() != 0 {
		t.Error("TokensIntrospect fetched the JWKS")
	}
}

// TestIntrospectionCache: an active answer is reused until exp or
// CacheTTL, whichever is first; inactive answers and failures are not.
func TestIntrospectionCache(t *testing.T) {
	is := newIssuer(t)
	f := newFakeIntrospection(t)
	long := activeAnswer(is)
	short := activeAnswer(is)
	short["exp"] = testNow.Add(20 * time.Second).Unix()
	f.set("long", long)
	f.set("short", short)
	now := testNow
	m := newIntrospecting(t, is, f, func(c *smartmw.Config) {
		c.Tokens.Now = func() time.Time { return now }
		c.Tokens.Leeway = time.Second
		c.Issuer.Introspection.CacheTTL = 45 * time.Second
	})
	verify := func(tok string) error { _, err := m.Verify(context.Background(), tok); return err }
	for _, step := range []struct {
		at     time.Duration
		tok    string
		calls  int32 // total so far
		failed bool
	}{
		{0, "long", 1, false},
		{10 * time.Second, "long", 1, false}, // cached
		{0, "short", 2, false},
		{10 * time.Second, "short", 2, false},
		{21 * time.Second, "short", 3, true}, // past exp: asked again, then refused
		{44 * time.Second, "long", 3, false}, // still cached
		{46 * time.Second, "long", 4, false}, // CacheTTL passed: asked again
		{46 * time.Second, "inactive", 5, true},
		{46 * time.Second, "inactive", 6, true}, // not cached
	} {
		now = testNow.Add(step.at)
		err := verify(step.tok)
		if (err != nil) != step.failed || f.calls.Load() != step.calls {
			t.Fatalf("at +%v %s: err %v, %d calls; want failure %v, %d calls", step.at, step.tok, err, f.calls.Load(), step.failed, step.calls)
		}
	}
}

// TestIntrospectionSharesOneCall: concurrent requests with one token make
// one call, and all get its answer.
func TestIntrospectionSharesOneCall(t *testing.T) {
	is := newIssuer(t)
	f := newFakeIntrospection(t)
	f.set("opaque-token", activeAnswer(is))
	f.gate = make(chan struct{})
	m := newIntrospecting(t, is, f, nil)
	h := m.Handler(emptyBundle)
	const n = 20
	codes := make(chan int, n)
	for range n {
		go func() { codes <- searchWith(h, "opaque-token").Code }()
	}
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue behind the call
	close(f.gate)
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("status %d", c)
		}
	}
	if c := f.calls.Load(); c != 1 {
		t.Errorf("%d calls for %d concurrent requests with one token", c, n)
	}
}

// TestIntrospectionUnavailable: an endpoint that is slow, down, or
// flooded makes requests fail with 503 and Retry-After, never pass; the
// outage is logged once.
func TestIntrospectionUnavailable(t *testing.T) {
	is := newIssuer(t)
	t.Run("slow", func(t *testing.T) {
		f := newFakeIntrospection(t)
		f.set("opaque-token", activeAnswer(is))
		f.delay = 2 * time.Second
		m := newIntrospecting(t, is, f, func(c *smartmw.Config) { c.Issuer.Introspection.Timeout = 100 * time.Millisecond })
		start := time.Now()
		rec := searchWith(m.Handler(emptyBundle), "opaque-token")
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("%d %v", rec.Code, rec.Header())
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("answered after %v, Timeout 100 ms", d)
		}
	})
	t.Run("down, logged once", func(t *testing.T) {
		f := newFakeIntrospection(t)
		logs := &recordLog{}
		m := newIntrospecting(t, is, f, func(c *smartmw.Config) { c.Hooks.Logger = slog.New(logs) })
		f.srv.Close()
		for i := range 10 {
			var e *smartmw.Error
			if _, err := m.Verify(context.Background(), fmt.Sprint("opaque-", i)); !errors.As(err, &e) || e.Status != 503 || !errors.Is(err, smartmw.ErrUnavailable) {
				t.Fatalf("err %v", err)
			}
		}
		if n := logs.count(slog.LevelError); n != 1 {
			t.Errorf("%d error records", n)
		}
	})
	t.Run("flooded", func(t *testing.T) {
		f := newFakeIntrospection(t)
		f.gate = make(chan struct{})
		m := newIntrospecting(t, is, f, nil)
		const n = smartmw.MaxIntrospections + 16
		errs := make(chan error, n)
		for i := range n {
			go func() { _, err := m.Verify(context.Background(), fmt.Sprint("random-", i)); errs <- err }()
		}
		busy := 0
		for range n - smartmw.MaxIntrospections {
			if err := <-errs; errors.Is(err, smartmw.ErrUnavailable) {
				busy++
			}
		}
		close(f.gate)
		for range smartmw.MaxIntrospections {
			<-errs
		}
		if busy != n-smartmw.MaxIntrospections || f.maxIn.Load() > smartmw.MaxIntrospections {
			t.Errorf("%d answered 503 at once, %d calls in flight at most; want %d and %d", busy, f.maxIn.Load(), n-smartmw.MaxIntrospections, smartmw.MaxIntrospections)
		}
	})
}

// TestTokenFormats: per issuer, which tokens are verified with keys,
// which introspected, and which refused without asking anyone.
func TestTokenFormats(t *testing.T) {
	is := newIssuer(t)
	jwtTok := func(t *testing.T) string { return sign(t, is, goodClaims(is)) }
	tests := []struct {
		name       string
		tokens     smartmw.TokenFormat
		opaqueCode int
		jwtCalls   int32 // introspection calls for a JWT
	}{
		{"JWT only", smartmw.TokensJWT, 401, 0},
		{"JWT or introspection", smartmw.TokensJWTOrIntrospect, 200, 0},
		{"introspection only", smartmw.TokensIntrospect, 200, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIntrospection(t)
			f.set("opaque-token", activeAnswer(is))
			tok := jwtTok(t)
			f.set(tok, activeAnswer(is))
			m := newGuard(t, is, func(c *smartmw.Config) {
				c.Issuer.Format = tc.tokens
				if tc.tokens != smartmw.TokensJWT {
					c.Issuer.Introspection = smartmw.Introspection{Endpoint: f.url()}
				}
			})
			h := m.Handler(emptyBundle)
			if rec := searchWith(h, tok); rec.Code != 200 || f.calls.Load() != tc.jwtCalls {
				t.Errorf("JWT: %d, %d calls; want 200, %d calls", rec.Code, f.calls.Load(), tc.jwtCalls)
			}
			before := f.calls.Load()
			if rec := searchWith(h, "opaque-token"); rec.Code != tc.opaqueCode {
				t.Errorf("opaque: %d, want %d", rec.Code, tc.opaqueCode)
			}
			if tc.tokens == smartmw.TokensJWT && f.calls.Load() != before {
				t.Error("an opaque token was sent to an endpoint nobody configured")
			}
		})
	}
}

// TestOpaqueTokenGoesToItsBaseIssuerOnly: an opaque token is sent only to
// the issuer that introspects for the request's base; two such issuers for
// one base are a Config error.
func TestOpaqueTokenGoesToItsBaseIssuerOnly(t *testing.T) {
	is := newIssuer(t)
	const baseB = "https://fhir.example.org/tenant-b"
	const issB = "https://hydra.example.org"
	fB := newFakeIntrospection(t)
	answer := activeAnswer(is)
	answer["iss"], answer["aud"] = issB, baseB
	fB.set("opaque-token", answer)
	m := newGuard(t, is, func(c *smartmw.Config) {
		c.Issuers = []smartmw.Issuer{{URL: issB, Audience: baseB, Format: smartmw.TokensIntrospect, Introspection: smartmw.Introspection{Endpoint: fB.url()}}}
	})
	h := m.Handler(emptyBundle)
	get := func(target string) int {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer opaque-token")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := get("/r4/Observation?patient=123"); c != 401 || fB.calls.Load() != 0 {
		t.Errorf("on the JWT-only base: %d, %d calls; want 401 without asking B", c, fB.calls.Load())
	}
	if c := get("/tenant-b/Observation?patient=123"); c != 200 || fB.calls.Load() != 1 {
		t.Errorf("on B's base: %d, %d calls", c, fB.calls.Load())
	}
	// B's active token, cached now, is still refused on A's base.
	if c := get("/r4/Observation?patient=123"); c != 401 {
		t.Errorf("B's cached token on A's base: %d", c)
	}

	_, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:           is.URL(),
		Audience:      testAudience,
		Keyfunc:       noKeys,
		Format:        smartmw.TokensJWTOrIntrospect,
		Introspection: smartmw.Introspection{Endpoint: fB.url()},
	}, Issuers: []smartmw.Issuer{{URL: issB, Audience: testAudience, Format: smartmw.TokensIntrospect, Introspection: smartmw.Introspection{Endpoint: fB.url()}}}})
	if err == nil || !strings.Contains(err.Error(), "both introspect opaque tokens") {
		t.Errorf("two introspecting issuers for one base: %v", err)
	}
}

// TestIntrospectionConfigErrors: bad introspection settings are reported
// by New with the rest.
func TestIntrospectionConfigErrors(t *testing.T) {
	is := newIssuer(t)
	_, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:           is.URL(),
		Audience:      testAudience,
		Keyfunc:       noKeys,
		Introspection: smartmw.Introspection{Endpoint: "https://auth.example.org/introspect"},
	}, Issuers: []smartmw.Issuer{
		{URL: "https://a.example.org", Audience: "https://fhir.example.org/a", Format: smartmw.TokensIntrospect,
			Introspection: smartmw.Introspection{Endpoint: "http://auth.example.org/introspect", Auth: smartmw.IntrospectionClientSecretPost, Timeout: -1}},
		{URL: "https://b.example.org", Audience: "https://fhir.example.org/b", Format: smartmw.TokensIntrospect,
			Introspection: smartmw.Introspection{Endpoint: "https://b.example.org/i", Auth: smartmw.IntrospectionBearer}},
		{URL: "https://c.example.org", Audience: "https://fhir.example.org/c", Format: 7},
	}})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"TokensJWT", "not https", "ClientID and ClientSecret", "Timeout", "BearerToken", "not a TokenFormat"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}
