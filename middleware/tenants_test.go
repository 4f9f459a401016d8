package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/smarttest"
)

// Two tenants on their own hosts, with the same path, each with its own
// authorization server.
const (
	tenantA = "https://a.example.org/fhir"
	tenantB = "https://b.example.org/fhir"
)

// hostTenants starts an authorization server for each of baseA and baseB
// and returns them with the Config of a Guard serving both, after change.
func hostTenants(t *testing.T, baseA, baseB string, change ...func(*smartmw.Config)) (isA, isB *smarttest.Issuer, cfg smartmw.Config) {
	t.Helper()
	isA = smarttest.NewIssuer(t, smarttest.ForAudience(baseA))
	isB = smarttest.NewIssuer(t, smarttest.ForAudience(baseB))
	cfg = isA.Config()
	cfgB := isB.Config()
	cfg.Issuers = []smartmw.Issuer{{URL: cfgB.Issuer.URL, Audience: baseB, JWKSURL: cfgB.Issuer.JWKSURL}}
	for _, c := range change {
		c(&cfg)
	}
	return isA, isB, cfg
}

// hostRequest is a request for target on host, with token and headers
// (name, value, name, value, ...).
func hostRequest(method, host, target, token string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

type hostCase struct {
	name, method, host, target, token string
	headers                           []string
	want                              int
}

// runHostCases sends each case to h and checks its status; a refusal must
// be one the client can tell (401 invalid_token or 404), and no refused
// write may reach store.
func runHostCases(t *testing.T, h http.Handler, store *anyPatientStore, tests []hostCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(store.writes)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, hostRequest(tc.method, tc.host, tc.target, tc.token, tc.headers...))
			if w.Code != tc.want {
				t.Fatalf("%s %s on %s: %d, want %d: %s", tc.method, tc.target, tc.host, w.Code, tc.want, w.Body)
			}
			if tc.want == http.StatusUnauthorized && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("401 without invalid_token: %q", w.Header().Get("WWW-Authenticate"))
			}
			if tc.want != http.StatusOK && len(store.writes) != n {
				t.Errorf("a refused %s reached the store", tc.method)
			}
		})
	}
}

// TestTenantTokenRefusedOnAnotherTenantsHost: two tenants on two hosts
// with the same path, each with its own authorization server. Tenant B's
// token, from B's own server, is refused on tenant A's host (it once got
// 200 there: bases were told apart by path alone), each token is accepted
// on its own host, and a host that is neither tenant's is not served.
func TestTenantTokenRefusedOnAnotherTenantsHost(t *testing.T) {
	isA, isB, cfg := hostTenants(t, tenantA, tenantB)
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &anyPatientStore{}
	h := guard.Handler(store)
	scopes := smarttest.Scopes("system/*.cruds")
	tokA, tokB := isA.Token(t, scopes), isB.Token(t, scopes)
	// B's server naming A's base beside its own: B is not A's issuer.
	tokBForA := isB.Token(t, scopes, smarttest.AudienceClaim([]string{tenantB, tenantA}))
	const obs = "/fhir/Observation/o1"
	runHostCases(t, h, store, []hostCase{
		{name: "A on A", method: "GET", host: "a.example.org", target: obs, token: tokA, want: 200},
		{name: "B on B", method: "GET", host: "b.example.org", target: obs, token: tokB, want: 200},
		{name: "B on A read", method: "GET", host: "a.example.org", target: obs, token: tokB, want: 401},
		{name: "B on A delete", method: "DELETE", host: "a.example.org", target: obs, token: tokB, want: 401},
		{name: "A on B read", method: "GET", host: "b.example.org", target: obs, token: tokA, want: 401},
		{name: "A on B delete", method: "DELETE", host: "b.example.org", target: obs, token: tokA, want: 401},
		{name: "B naming A too, on A", method: "DELETE", host: "a.example.org", target: obs, token: tokBForA, want: 401},
		{name: "B naming A too, on B", method: "GET", host: "b.example.org", target: obs, token: tokBForA, want: 200},
		{name: "A on A, host in upper case", method: "GET", host: "A.EXAMPLE.ORG", target: obs, token: tokA, want: 200},
		{name: "A on A, default https port", method: "GET", host: "a.example.org:443", target: obs, token: tokA, want: 200},
		{name: "B on A, default http port", method: "GET", host: "a.example.org:80", target: obs, token: tokB, want: 401},
		{name: "A on A's host, another port", method: "GET", host: "a.example.org:8443", target: obs, token: tokA, want: 404},
		{name: "B on a host of neither", method: "GET", host: "c.example.org", target: obs, token: tokB, want: 404},
		{name: "B on the server's own address", method: "GET", host: "127.0.0.1:8080", target: obs, token: tokB, want: 404},
		{name: "B on A, B's host in X-Forwarded-Host (not trusted)", method: "GET", host: "a.example.org", target: obs, token: tokB,
			headers: []string{"X-Forwarded-Host", "b.example.org"}, want: 401},
		{name: "outside every base", method: "GET", host: "a.example.org", target: "/other/Observation/o1", token: tokA, want: 404},
	})
	if len(store.writes) != 0 {
		t.Errorf("writes reached the store: %v", store.writes)
	}
}

// TestTenantHostsWithNestedPaths: a base on another host under a
// tenant's path (or over it) is told apart by host too: a request under
// both paths is matched by its host, never by the longer path alone.
func TestTenantHostsWithNestedPaths(t *testing.T) {
	const baseB = "https://b.example.org/fhir/r4"
	isA, isB, cfg := hostTenants(t, tenantA, baseB)
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &anyPatientStore{}
	scopes := smarttest.Scopes("system/*.cruds")
	tokA, tokB := isA.Token(t, scopes), isB.Token(t, scopes)
	runHostCases(t, guard.Handler(store), store, []hostCase{
		{name: "A on A", method: "GET", host: "a.example.org", target: "/fhir/Observation/o1", token: tokA, want: 200},
		{name: "B on B", method: "GET", host: "b.example.org", target: "/fhir/r4/Observation/o1", token: tokB, want: 200},
		{name: "B under B's path on A's host", method: "GET", host: "a.example.org", target: "/fhir/r4/Observation/o1", token: tokB, want: 401},
		{name: "B under B's path on neither host", method: "GET", host: "127.0.0.1", target: "/fhir/r4/Observation/o1", token: tokB, want: 404},
		{name: "A under A's path on B's host", method: "GET", host: "b.example.org", target: "/fhir/Observation/o1", token: tokA, want: 404},
	})
}

// TestTenantPathsAloneWhenTheyTellBasesApart: bases on different hosts
// whose paths do not overlap, and bases on one host, are matched by path
// alone, whatever the request's host (a server reached as 127.0.0.1, or
// through a proxy that changes the host), as before hosts were compared.
func TestTenantPathsAloneWhenTheyTellBasesApart(t *testing.T) {
	for _, bases := range [][2]string{
		{"https://a.example.org/fhir-a", "https://b.example.org/fhir-b"},
		{"https://fhir.example.org/fhir-a", "https://fhir.example.org/fhir-b"},
	} {
		t.Run(bases[0]+" "+bases[1], func(t *testing.T) {
			isA, isB, cfg := hostTenants(t, bases[0], bases[1])
			guard, err := smartmw.New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			store := &anyPatientStore{}
			scopes := smarttest.Scopes("system/*.cruds")
			tokA, tokB := isA.Token(t, scopes), isB.Token(t, scopes)
			runHostCases(t, guard.Handler(store), store, []hostCase{
				{name: "A", method: "GET", host: "127.0.0.1:8080", target: "/fhir-a/Observation/o1", token: tokA, want: 200},
				{name: "B", method: "GET", host: "127.0.0.1:8080", target: "/fhir-b/Observation/o1", token: tokB, want: 200},
				{name: "B on A", method: "GET", host: "127.0.0.1:8080", target: "/fhir-a/Observation/o1", token: tokB, want: 401},
			})
		})
	}
}

// TestNewRefusesIndistinguishableBases: two audiences that would be
// served under one base (the same host and path as requests are compared)
// are refused by New, with the Config's other problems; audiences a
// request can tell apart, and one audience shared by two issuers, are
// accepted.
func TestNewRefusesIndistinguishableBases(t *testing.T) {
	noKeys := func(*jwt.Token) (any, error) { return nil, errors.New("no keys") }
	const issA, issB = "https://auth-a.example.org", "https://auth-b.example.org"
	two := func(audA, audB string) smartmw.Config {
		return smartmw.Config{Issuer: smartmw.Issuer{
			URL:      issA,
			Audience: audA,
			Keyfunc:  noKeys,
		}, Issuers: []smartmw.Issuer{{URL: issB, Audience: audB, Keyfunc: noKeys}}}
	}
	tests := []struct {
		name string
		cfg  smartmw.Config
		ok   bool
	}{
		{name: "host in another case", cfg: two("https://a.example.org/fhir", "https://A.Example.org/fhir")},
		{name: "default port spelled out", cfg: two("https://a.example.org/fhir", "https://a.example.org:443/fhir")},
		{name: "http and https", cfg: two("https://a.example.org/fhir", "http://a.example.org/fhir")},
		{name: "Base onto another audience's path", cfg: func() smartmw.Config {
			c := two("https://a.example.org/r4", "https://a.example.org/fhir")
			c.Base = "/fhir"
			return c
		}()},
		{name: "one issuer's two spellings", cfg: smartmw.Config{Issuer: smartmw.Issuer{
			URL:       issA,
			Audience:  "https://a.example.org/fhir",
			Audiences: []string{"https://a.example.org:443/fhir"},
			Keyfunc:   noKeys,
		}}},
		{name: "root base twice", cfg: two("https://a.example.org", "https://a.example.org:443")},

		{name: "one audience, two issuers", cfg: two(tenantA, tenantA), ok: true},
		{name: "same path, two hosts", cfg: two(tenantA, tenantB), ok: true},
		{name: "same host, two paths", cfg: two("https://a.example.org/fhir-a", "https://a.example.org/fhir-b"), ok: true},
		{name: "same host and path, two ports", cfg: two("https://a.example.org/fhir", "https://a.example.org:8443/fhir"), ok: true},
		{name: "same path, two hosts, each introspected by its own issuer", cfg: func() smartmw.Config {
			c := two(tenantA, tenantB)
			c.Issuer.Keyfunc, c.Issuer.Format = nil, smartmw.TokensIntrospect
			c.Issuer.Introspection = smartmw.Introspection{Endpoint: issA + "/introspect"}
			c.Issuers[0].Keyfunc, c.Issuers[0].Format = nil, smartmw.TokensIntrospect
			c.Issuers[0].Introspection = smartmw.Introspection{Endpoint: issB + "/introspect"}
			return c
		}(), ok: true},
		{name: "Base onto the path of another host", cfg: func() smartmw.Config {
			c := two("https://a.example.org/r4", "https://b.example.org/fhir")
			c.Base = "/fhir"
			return c
		}(), ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := smartmw.New(t.Context(), tc.cfg)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && err == nil:
				t.Fatal("accepted two audiences no request can tell apart")
			case !tc.ok && !strings.Contains(err.Error(), "could not be told apart"):
				t.Fatalf("refused for another reason: %v", err)
			}
		})
	}

	// Reported with the other problems, at once.
	cfg := two(tenantA, "https://A.example.org:443/fhir")
	cfg.Tokens.Leeway = -1
	_, err := smartmw.New(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "could not be told apart") || !strings.Contains(err.Error(), "Leeway") {
		t.Errorf("not every problem reported: %v", err)
	}
}

// TestAuthorizeChecksTheTokensBase: in a chain of one's own
// (AuthenticateOnly, http.StripPrefix, Authorize), authentication cannot
// know the base (the path it sees is under none), so Authorize checks
// that the token is for the base the request reaches it under: tenant B's
// token is refused on tenant A's base. It once got 200 there.
func TestAuthorizeChecksTheTokensBase(t *testing.T) {
	for _, tenants := range []struct{ name, baseA, baseB, hostA, hostB, pathA string }{
		{name: "by host", baseA: tenantA, baseB: tenantB, hostA: "a.example.org", hostB: "b.example.org", pathA: "/fhir"},
		{name: "by path", baseA: "https://fhir.example.org/tenant-a", baseB: "https://fhir.example.org/tenant-b",
			hostA: "127.0.0.1", hostB: "127.0.0.1", pathA: "/tenant-a"},
	} {
		t.Run(tenants.name, func(t *testing.T) {
			isA, isB, cfg := hostTenants(t, tenants.baseA, tenants.baseB)
			guard, err := smartmw.New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			store := &anyPatientStore{}
			h := guard.AuthenticateOnly(http.StripPrefix("/api", guard.Authorize(store)))
			scopes := smarttest.Scopes("system/*.cruds")
			tokA, tokB := isA.Token(t, scopes), isB.Token(t, scopes)
			obs := "/api" + tenants.pathA + "/Observation/o1"
			runHostCases(t, h, store, []hostCase{
				{name: "A on A", method: "GET", host: tenants.hostA, target: obs, token: tokA, want: 200},
				{name: "B on A read", method: "GET", host: tenants.hostA, target: obs, token: tokB, want: 401},
				{name: "B on A delete", method: "DELETE", host: tenants.hostA, target: obs, token: tokB, want: 401},
			})

			// Decide checks it too, for a grant from a token.
			gB, err := guard.Verify(t.Context(), tokB)
			if err != nil {
				t.Fatal(err)
			}
			r := hostRequest("GET", tenants.hostA, tenants.pathA+"/Observation/o1", "")
			if _, err := guard.Decide(t.Context(), gB, r); !errors.Is(err, smartmw.ErrInvalidToken) {
				t.Errorf("Decide of B's grant on A's base: %v", err)
			}
			gA, err := guard.Verify(t.Context(), tokA)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := guard.Decide(t.Context(), gA, r); err != nil {
				t.Errorf("Decide of A's grant on A's base: %v", err)
			}
		})
	}
}

// TestAuthorizeGrantsMadeByHand: a grant the application makes itself
// (no issuer, no audience, as smarttest.Grant makes) is tied to no base
// and decided as it is; one that names an issuer or an audience must be
// bound to the base like a token's.
func TestAuthorizeGrantsMadeByHand(t *testing.T) {
	isA, isB, cfg := hostTenants(t, tenantA, tenantB)
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := scope.Parse("system/*.cruds")
	tests := []struct {
		name string
		c    smartctx.Claims
		ok   bool
	}{
		{name: "neither issuer nor audience", ok: true},
		{name: "A's issuer and audience", c: smartctx.Claims{Issuer: isA.URL(), Audience: []string{tenantA}}, ok: true},
		{name: "B's issuer and audience", c: smartctx.Claims{Issuer: isB.URL(), Audience: []string{tenantB}}},
		{name: "B's issuer, A's audience", c: smartctx.Claims{Issuer: isB.URL(), Audience: []string{tenantA}}},
		{name: "A's audience, no issuer", c: smartctx.Claims{Audience: []string{tenantA}}},
		{name: "A's issuer, no audience", c: smartctx.Claims{Issuer: isA.URL()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Scopes = sc
			g := smartctx.NewGrant(tc.c)
			r := hostRequest("GET", "a.example.org", "/fhir/Observation/o1", "")
			w := httptest.NewRecorder()
			guard.Authorize(&anyPatientStore{}).ServeHTTP(w, r.WithContext(smartctx.NewContext(r.Context(), g)))
			_, err := guard.Decide(context.Background(), g, r)
			if tc.ok != (w.Code == 200) || tc.ok != (err == nil) {
				t.Errorf("Authorize %d, Decide %v; want allowed: %v", w.Code, err, tc.ok)
			}
			if !tc.ok && (w.Code != 401 || !errors.Is(err, smartmw.ErrInvalidToken)) {
				t.Errorf("refused with %d, %v; want 401 invalid_token", w.Code, err)
			}
		})
	}
}

// TestForwardedHostTrustedOnlyWhenConfigured: behind a proxy, the host
// the proxy forwards (X-Forwarded-Host, Forwarded host=) chooses between
// bases that only the host tells apart, only with TrustForwardedHost; by
// default those headers are not read, so a client cannot choose its
// tenant with them.
func TestForwardedHostTrustedOnlyWhenConfigured(t *testing.T) {
	const proxy = "10.0.0.5:8080" // the Host the proxy sends
	const obs = "/fhir/Observation/o1"
	scopes := smarttest.Scopes("system/*.cruds")

	t.Run("not trusted by default", func(t *testing.T) {
		isA, isB, cfg := hostTenants(t, tenantA, tenantB)
		guard, err := smartmw.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		store := &anyPatientStore{}
		tokA, tokB := isA.Token(t, scopes), isB.Token(t, scopes)
		runHostCases(t, guard.Handler(store), store, []hostCase{
			{name: "X-Forwarded-Host ignored", method: "GET", host: proxy, target: obs, token: tokA,
				headers: []string{"X-Forwarded-Host", "a.example.org"}, want: 404},
			{name: "Forwarded ignored", method: "GET", host: proxy, target: obs, token: tokA,
				headers: []string{"Forwarded", "host=a.example.org"}, want: 404},
			{name: "B naming B's host on A's host", method: "GET", host: "a.example.org", target: obs, token: tokB,
				headers: []string{"X-Forwarded-Host", "b.example.org", "Forwarded", "host=b.example.org"}, want: 401},
		})
	})

	t.Run("trusted", func(t *testing.T) {
		isA, isB, cfg := hostTenants(t, tenantA, tenantB, func(c *smartmw.Config) { c.TrustForwardedHost = true })
		guard, err := smartmw.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		store := &anyPatientStore{}
		tokA, tokB := isA.Token(t, scopes), isB.Token(t, scopes)
		runHostCases(t, guard.Handler(store), store, []hostCase{
			{name: "A through X-Forwarded-Host", method: "GET", host: proxy, target: obs, token: tokA,
				headers: []string{"X-Forwarded-Host", "a.example.org"}, want: 200},
			{name: "B on A through X-Forwarded-Host", method: "DELETE", host: proxy, target: obs, token: tokB,
				headers: []string{"X-Forwarded-Host", "a.example.org"}, want: 401},
			{name: "B through Forwarded", method: "GET", host: proxy, target: obs, token: tokB,
				headers: []string{"Forwarded", `for=192.0.2.1;host="b.example.org";proto=https`}, want: 200},
			{name: "the proxy's element is the last", method: "GET", host: proxy, target: obs, token: tokB,
				headers: []string{"Forwarded", "host=b.example.org, for=192.0.2.1;host=a.example.org"}, want: 401},
			{name: "the proxy's header line is the last", method: "GET", host: proxy, target: obs, token: tokA,
				headers: []string{"Forwarded", "host=b.example.org", "Forwarded", "host=a.example.org"}, want: 200},
			{name: "the proxy's X-Forwarded-Host value is the last", method: "GET", host: proxy, target: obs, token: tokB,
				headers: []string{"X-Forwarded-Host", "b.example.org, a.example.org"}, want: 401},
			{name: "both headers, one host", method: "GET", host: proxy, target: obs, token: tokA,
				headers: []string{"X-Forwarded-Host", "a.example.org:443", "Forwarded", "host=A.example.org"}, want: 200},
			{name: "both headers, two hosts", method: "GET", host: proxy, target: obs, token: tokA,
				headers: []string{"X-Forwarded-Host", "a.example.org", "Forwarded", "host=b.example.org"}, want: 404},
			{name: "Forwarded unreadable", method: "GET", host: "a.example.org", target: obs, token: tokA,
				headers: []string{"Forwarded", `host="a.example.org`}, want: 404},
			{name: "Forwarded host twice", method: "GET", host: proxy, target: obs, token: tokA,
				headers: []string{"Forwarded", "host=a.example.org;host=b.example.org"}, want: 404},
			{name: "no forwarding header: the Host", method: "GET", host: "a.example.org", target: obs, token: tokA, want: 200},
			{name: "Forwarded without host: the Host", method: "GET", host: "b.example.org", target: obs, token: tokB,
				headers: []string{"Forwarded", "for=192.0.2.1;proto=https"}, want: 200},
		})
	})
}
