package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/smarttest"
	"github.com/smartguard/smartguard/wellknown"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type page struct {
	status int
	header http.Header
	body   string
}

func fetch(t *testing.T, method, target string, form url.Values) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(b)}
}

const testVerifier = "a-verifier-of-at-least-forty-three-characters-0123456789"

// authorizeURL is what the demo app's launch.js builds.
func authorizeURL(d *demo, scopes, state, launch string) string {
	sum := sha256.Sum256([]byte(testVerifier))
	q := url.Values{"response_type": {"code"}, "client_id": {demoClientID}, "redirect_uri": {d.root + "/app/"},
		"scope": {scopes}, "state": {state}, "aud": {d.audience},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	if launch != "" {
		q.Set("launch", launch)
	}
	return d.issuer + "/authorize?" + q.Encode()
}

var requestID = regexp.MustCompile(`name="request" value="([^"]+)"`)

// consentFor opens the consent page of an authorization request and
// returns the page and its request id.
func consentFor(t *testing.T, authorize string) (page, string) {
	t.Helper()
	p := fetch(t, http.MethodGet, authorize, nil)
	m := requestID.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		t.Fatalf("consent page: %d %s %s", p.status, p.header.Get("Location"), p.body)
	}
	return p, m[1]
}

// redeem follows the consent's redirect to the app and exchanges the code
// as app.js does.
func redeem(t *testing.T, d *demo, p page, state string) map[string]any {
	t.Helper()
	if p.status != http.StatusSeeOther {
		t.Fatalf("consent answered %d, want 303: %s", p.status, p.body)
	}
	loc, err := url.Parse(p.header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), d.root+"/app/?") || loc.Query().Get("state") != state {
		t.Fatalf("redirect %q: want the app with state %q", p.header.Get("Location"), state)
	}
	tp := fetch(t, http.MethodPost, d.issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {demoClientID}, "redirect_uri": {d.root + "/app/"}, "code_verifier": {testVerifier}})
	var resp map[string]any
	if err := json.Unmarshal([]byte(tp.body), &resp); err != nil || tp.status != 200 {
		t.Fatalf("token: %d %s", tp.status, tp.body)
	}
	return resp
}

func claims(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStandaloneLaunchInTheBrowserPages walks the standalone launch as a
// browser does: consent with a patient picked and a scope unticked, then
// the FHIR calls of the app's buttons.
func TestStandaloneLaunchInTheBrowserPages(t *testing.T) {
	d, _ := startDemo(t)
	const asked = "launch/patient launch/encounter openid fhirUser offline_access patient/Patient.r patient/Observation.rs patient/Observation.c"
	p, id := consentFor(t, authorizeURL(d, asked, "s-1", ""))
	for _, want := range []string{"Amy Shaw", "Peter Chalmers", "Kenji Nakamura", `value="patient/Observation.rs" checked`, "Development only"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	approved := []string{"launch/patient", "openid", "fhirUser", "offline_access", "patient/Patient.r", "patient/Observation.c"}
	resp := redeem(t, d, fetch(t, http.MethodPost, d.issuer+"/consent",
		url.Values{"request": {id}, "decision": {"approve"}, "scope": approved, "patient": {"other"}}), "s-1")
	if resp["patient"] != "other" || resp["scope"] != strings.Join(approved, " ") || resp["refresh_token"] == nil || resp["id_token"] == nil {
		t.Fatalf("token response %v", resp)
	}
	tok := resp["access_token"].(string)
	if c := claims(t, tok); c["scope"] != strings.Join(approved, " ") || c["patient"] != "other" || c["fhirUser"] != devUser {
		t.Errorf("access token claims %v", c)
	}
	if code, body := get(t, d.audience+"/Patient/other", tok); code != 200 {
		t.Errorf("read my patient: %d %s", code, body)
	}
	for _, target := range []string{"/Observation?patient=other&category=laboratory", "/Patient/example"} {
		req, _ := http.NewRequest(http.MethodGet, d.audience+target, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 403 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("GET %s: %d %q, want 403 insufficient_scope", target, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
	}
	// The refresh token gives a new access token with the same context.
	rp := fetch(t, http.MethodPost, d.issuer+"/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {resp["refresh_token"].(string)}, "client_id": {demoClientID}})
	var refreshed map[string]any
	if json.Unmarshal([]byte(rp.body), &refreshed); rp.status != 200 || refreshed["patient"] != "other" || refreshed["access_token"] == tok {
		t.Errorf("refresh: %d %s", rp.status, rp.body)
	}
}

func TestEHRLaunchFromTheEHRPage(t *testing.T) {
	d, _ := startDemo(t)
	ehr := fetch(t, http.MethodGet, d.root+"/ehr/", nil)
	for _, want := range []string{"Amy Shaw", "Peter Chalmers", "Kenji Nakamura", "Development only", `action="/ehr/launch"`} {
		if ehr.status != 200 || !strings.Contains(ehr.body, want) {
			t.Errorf("EHR page (%d) lacks %q", ehr.status, want)
		}
	}
	l := fetch(t, http.MethodPost, d.root+"/ehr/launch", url.Values{"patient": {"third"}})
	loc, _ := url.Parse(l.header.Get("Location"))
	if l.status != http.StatusSeeOther || loc == nil || loc.Path != "/app/launch.html" || loc.Query().Get("iss") != d.audience || loc.Query().Get("launch") == "" {
		t.Fatalf("launch: %d %q", l.status, l.header.Get("Location"))
	}
	p, id := consentFor(t, authorizeURL(d, "launch openid patient/Patient.r", "s-2", loc.Query().Get("launch")))
	if !strings.Contains(p.body, "Context from the EHR launch") || !strings.Contains(p.body, "Kenji Nakamura") || strings.Contains(p.body, `name="patient"`) {
		t.Errorf("EHR consent page: want the launch's patient, and no picker:\n%s", p.body)
	}
	resp := redeem(t, d, fetch(t, http.MethodPost, d.issuer+"/consent",
		url.Values{"request": {id}, "decision": {"approve"}, "scope": {"launch", "patient/Patient.r"}}), "s-2")
	if resp["patient"] != "third" || resp["scope"] != "launch patient/Patient.r" {
		t.Errorf("token response %v", resp)
	}
	if code, _ := get(t, d.audience+"/Patient/third", resp["access_token"].(string)); code != 200 {
		t.Errorf("read the launch patient: %d", code)
	}

	if l := fetch(t, http.MethodPost, d.root+"/ehr/launch", url.Values{"patient": {"nobody"}}); l.status != 400 {
		t.Errorf("launch for an unknown patient: %d", l.status)
	}
	if l := fetch(t, http.MethodPost, d.root+"/ehr/launch", url.Values{"patient": {"third"}, "encounter": {"not-theirs"}}); l.status != 400 {
		t.Errorf("launch with an unknown encounter: %d", l.status)
	}
}

func TestConsentChecksThePick(t *testing.T) {
	d, _ := startDemo(t)
	_, id := consentFor(t, authorizeURL(d, "launch/patient patient/Patient.r", "s-3", ""))
	for _, form := range []url.Values{
		{"request": {id}, "decision": {"approve"}, "scope": {"launch/patient", "patient/Patient.r"}, "patient": {"nobody"}},
		{"request": {id}, "decision": {"approve"}, "scope": {"launch/patient", "patient/Patient.r"}},
		{"request": {id}, "decision": {"approve"}, "scope": {"user/*.cruds"}, "patient": {"example"}},
	} {
		if p := fetch(t, http.MethodPost, d.issuer+"/consent", form); p.status != 400 || !strings.Contains(p.body, `role="alert"`) {
			t.Errorf("consent %v: %d, want 400 with the page again", form, p.status)
		}
	}
	// The request is still pending: a good pick goes through, once.
	good := url.Values{"request": {id}, "decision": {"approve"}, "scope": {"launch/patient"}, "patient": {"example"}}
	if resp := redeem(t, d, fetch(t, http.MethodPost, d.issuer+"/consent", good), "s-3"); resp["scope"] != "launch/patient" || resp["patient"] != "example" {
		t.Errorf("token response %v", resp)
	}
	if p := fetch(t, http.MethodPost, d.issuer+"/consent", good); p.status != 400 || p.header.Get("Location") != "" {
		t.Errorf("second decision: %d %q", p.status, p.header.Get("Location"))
	}
	// Deny goes back with access_denied and the state.
	_, id = consentFor(t, authorizeURL(d, "launch/patient", "s-4", ""))
	p := fetch(t, http.MethodPost, d.issuer+"/consent", url.Values{"request": {id}, "decision": {"deny"}})
	if loc := p.header.Get("Location"); p.status != 303 || !strings.Contains(loc, "error=access_denied") || !strings.Contains(loc, "state=s-4") {
		t.Errorf("deny: %d %q", p.status, loc)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	d, _ := startDemo(t)
	good := authorizeURL(d, "launch/patient", "s-5", "")
	bad := strings.Replace(good, url.QueryEscape(d.root+"/app/"), url.QueryEscape(d.root+"/evil/"), 1)
	if p := fetch(t, http.MethodGet, bad, nil); p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.body, "not registered") {
		t.Errorf("unregistered redirect URI: %d %q", p.status, p.header.Get("Location"))
	}
	plain := strings.Replace(good, "code_challenge_method=S256", "code_challenge_method=plain", 1)
	p := fetch(t, http.MethodGet, plain, nil)
	if loc := p.header.Get("Location"); p.status != 302 || !strings.HasPrefix(loc, d.root+"/app/?") || !strings.Contains(loc, "error=invalid_request") || !strings.Contains(loc, "state=s-5") {
		t.Errorf("plain PKCE: %d %q", p.status, loc)
	}
}

// TestDiscoveryAdvertisesWhatIsServed: the SMART document is valid, and
// what it advertises answers.
func TestDiscoveryAdvertisesWhatIsServed(t *testing.T) {
	d, _ := startDemo(t)
	p := fetch(t, http.MethodGet, d.audience+"/.well-known/smart-configuration", nil)
	var doc wellknown.Configuration
	if err := json.Unmarshal([]byte(p.body), &doc); err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, c := range []wellknown.Capability{wellknown.LaunchEHR, wellknown.LaunchStandalone, wellknown.ClientPublic,
		wellknown.ContextEHRPatient, wellknown.ContextStandalonePatient, wellknown.PermissionOffline, wellknown.SSOOpenIDConnect} {
		if !doc.HasCapability(c) {
			t.Errorf("capability %s missing", c)
		}
	}
	for _, c := range []wellknown.Capability{wellknown.AuthorizePost, wellknown.ClientConfidentialSymmetric, wellknown.PermissionOnline, wellknown.ContextBanner} {
		if doc.HasCapability(c) {
			t.Errorf("capability %s advertised, not served", c)
		}
	}
	if !slices.Equal(doc.CodeChallengeMethodsSupported, []string{"S256"}) {
		t.Errorf("PKCE methods %q", doc.CodeChallengeMethodsSupported)
	}
	if a := fetch(t, http.MethodGet, doc.AuthorizationEndpoint, nil); a.status != 400 || !strings.Contains(a.body, "client_id") {
		t.Errorf("authorization endpoint without parameters: %d", a.status)
	}
	if j := fetch(t, http.MethodGet, doc.JWKSURI, nil); j.status != 200 || !strings.Contains(j.body, `"keys"`) {
		t.Errorf("jwks_uri: %d", j.status)
	}
	var meta struct {
		Issuer string   `json:"issuer"`
		Grants []string `json:"grant_types_supported"`
	}
	m := fetch(t, http.MethodGet, doc.Issuer+"/.well-known/openid-configuration", nil)
	if err := json.Unmarshal([]byte(m.body), &meta); err != nil || meta.Issuer != doc.Issuer || !slices.Equal(meta.Grants, doc.GrantTypesSupported) {
		t.Errorf("OpenID metadata %s disagrees with %v", m.body, doc.GrantTypesSupported)
	}
}

// TestBrowserPages: every page says it is for development, forbids
// third-party content and framing, and answers on loopback names only.
func TestBrowserPages(t *testing.T) {
	d, printed := startDemo(t)
	if !strings.Contains(printed, "open "+d.root+"/ ") {
		t.Errorf("the welcome text lacks the browser URL:\n%s", printed)
	}
	_, _ = consentFor(t, authorizeURL(d, "launch/patient", "s-6", ""))
	for _, path := range []string{"/", "/ehr/", "/app/", "/app/launch.html", strings.TrimPrefix(authorizeURL(d, "launch/patient", "s-7", ""), d.root)} {
		p := fetch(t, http.MethodGet, d.root+path, nil)
		if p.status != 200 || !strings.Contains(p.body, "Development only, loopback only.") {
			t.Errorf("%s: %d, or no development-only notice", path, p.status)
		}
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || p.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, p.header)
		}
		for _, m := range regexp.MustCompile(`(?i)(?:src|href|action)="(https?:[^"]*)"`).FindAllStringSubmatch(p.body, -1) {
			if !strings.HasPrefix(m[1], d.root+"/") {
				t.Errorf("%s refers to another origin: %s", path, m[1])
			}
		}
	}
	for _, f := range []string{"app.js", "launch.js", "smart.js", "style.css", "favicon.svg"} {
		if p := fetch(t, http.MethodGet, d.root+"/app/"+f, nil); p.status != 200 {
			t.Errorf("/app/%s: %d", f, p.status)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, d.root+"/ehr/", nil)
	req.Host = "rebound.example:8080"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("EHR page under another host name: %d, want 421", resp.StatusCode)
	}
	var cfg map[string]string
	if json.Unmarshal([]byte(fetch(t, http.MethodGet, d.root+"/app/config.json", nil).body), &cfg); cfg["fhirBase"] != d.audience || cfg["redirectUri"] != d.root+"/app/" {
		t.Errorf("config.json %v", cfg)
	}
}

// TestStandaloneLaunchWithDPoP walks the launch as the demo app does with
// DPoP: the code asked for with dpop_jkt, redeemed with a proof of that
// key; the token is DPoP-bound, refused without a proof and as a bearer
// token, and the refresh token needs a proof of the same key.
func TestStandaloneLaunchWithDPoP(t *testing.T) {
	d, _ := startDemo(t)
	key := smarttest.NewDPoPKey(t, "ES256")
	authorize := authorizeURL(d, "launch/patient offline_access patient/Patient.r", "s-8", "") + "&dpop_jkt=" + key.Thumbprint()
	_, id := consentFor(t, authorize)
	p := fetch(t, http.MethodPost, d.issuer+"/consent", url.Values{"request": {id}, "decision": {"approve"},
		"scope": {"launch/patient", "offline_access", "patient/Patient.r"}, "patient": {"example"}})
	loc, _ := url.Parse(p.header.Get("Location"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {demoClientID}, "redirect_uri": {d.root + "/app/"}, "code_verifier": {testVerifier}}
	status, resp := dpopToken(t, d, key, form)
	if status != 200 || resp["token_type"] != "DPoP" {
		t.Fatalf("code with a proof: %d %v", status, resp)
	}
	tok, target := resp["access_token"].(string), d.audience+"/Patient/example"
	if r := dpopRequest(t, http.MethodGet, target, tok, key.Proof(t, http.MethodGet, target, tok)); r.StatusCode != 200 {
		t.Errorf("read with a proof: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	if r := dpopRequest(t, http.MethodGet, target, tok, ""); r.StatusCode != 401 {
		t.Errorf("read without a proof: %d", r.StatusCode)
	}
	if code, _ := get(t, target, tok); code != 401 {
		t.Errorf("read as a bearer token: %d", code)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {resp["refresh_token"].(string)}, "client_id": {demoClientID}}
	if status, resp := dpopToken(t, d, smarttest.NewDPoPKey(t, "ES256"), refresh); status != 400 || resp["error"] != "invalid_grant" {
		t.Errorf("refresh with another key: %d %v", status, resp)
	}
	if status, resp := dpopToken(t, d, key, refresh); status != 200 || resp["token_type"] != "DPoP" {
		t.Errorf("refresh with the key: %d %v", status, resp)
	}
}
