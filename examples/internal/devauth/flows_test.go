package devauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/testissuer"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/wellknown"
)

const (
	testAudience = "http://127.0.0.1:8080/fhir"
	testRedirect = "http://127.0.0.1:8080/app/"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-the-verifier"
)

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// testFlows is an issuer with Flows on a clock the test moves.
type testFlows struct {
	*Flows
	iss *testissuer.Issuer
	now time.Time
}

func newTestFlows(t *testing.T) *testFlows {
	t.Helper()
	iss, err := testissuer.New("ES256")
	if err != nil {
		t.Fatal(err)
	}
	iss.SetURL("http://127.0.0.1:8080/auth")
	tf := &testFlows{iss: iss, now: time.Unix(1_800_000_000, 0)}
	tf.Flows, err = New(iss, FlowsConfig{
		Audience: testAudience,
		Clients: []Client{{ID: "demo-app", Name: "Demo app", RedirectURIs: []string{testRedirect}},
			{ID: "other-app", RedirectURIs: []string{"http://localhost:9999/cb"}}},
		AccessTTL: 5 * time.Minute,
		Now:       func() time.Time { return tf.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

// authorizeQuery is a valid standalone request; set changes it (an empty
// value removes a parameter).
func authorizeQuery(set map[string]string) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {"demo-app"}, "redirect_uri": {testRedirect},
		"scope": {"launch/patient openid fhirUser offline_access patient/Patient.r patient/Observation.rs"},
		"state": {"state-123"}, "aud": {testAudience},
		"code_challenge":        {challengeOf(testVerifier)},
		"code_challenge_method": {"S256"},
	}
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return q
}

// approve runs an authorization request and approves it, returning the code.
func (tf *testFlows) approve(t *testing.T, q url.Values, a Approval) string {
	t.Helper()
	req, err := tf.Authorize(q)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	to, err := tf.Approve(req.ID, a)
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("state"); got != q.Get("state") {
		t.Errorf("state %q in the redirect, want %q", got, q.Get("state"))
	}
	if !strings.HasPrefix(to, q.Get("redirect_uri")+"?") {
		t.Errorf("redirect %q is not to %q", to, q.Get("redirect_uri"))
	}
	return u.Query().Get("code")
}

func exchangeForm(code string, set map[string]string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"demo-app"},
		"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	for k, v := range set {
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
	}
	return f
}

func tokenErrorCode(t *testing.T, err error) string {
	t.Helper()
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("error %v is not a *TokenError", err)
	}
	return te.Code
}

// claimsOf verifies a token with the issuer's key and returns its claims.
func (tf *testFlows) claimsOf(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return tf.iss.PublicKey(), nil },
		jwt.WithTimeFunc(func() time.Time { return tf.now }))
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return claims
}

func TestAuthorizeChecksClientAndRedirectURIExactly(t *testing.T) {
	tf := newTestFlows(t)
	for _, tc := range []struct {
		name, client, redirect string
	}{
		{name: "unknown client", client: "evil-app", redirect: testRedirect},
		{name: "no client", client: "", redirect: testRedirect},
		{name: "no redirect_uri", client: "demo-app", redirect: ""},
		{name: "no trailing slash", client: "demo-app", redirect: "http://127.0.0.1:8080/app"},
		{name: "index.html", client: "demo-app", redirect: "http://127.0.0.1:8080/app/index.html"},
		{name: "added query", client: "demo-app", redirect: testRedirect + "?x=1"},
		{name: "other port", client: "demo-app", redirect: "http://127.0.0.1:8081/app/"},
		{name: "localhost for 127.0.0.1", client: "demo-app", redirect: "http://localhost:8080/app/"},
		{name: "https for http", client: "demo-app", redirect: "https://127.0.0.1:8080/app/"},
		{name: "upper case path", client: "demo-app", redirect: "http://127.0.0.1:8080/APP/"},
		{name: "another client's URI", client: "demo-app", redirect: "http://localhost:9999/cb"},
		{name: "evil host", client: "demo-app", redirect: "http://evil.example/app/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tf.Authorize(authorizeQuery(map[string]string{"client_id": tc.client, "redirect_uri": tc.redirect}))
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *AuthError", err)
			}
			if ae.Redirect != "" {
				t.Errorf("the error redirects to %q: an untrusted redirect URI must never receive the browser", ae.Redirect)
			}
		})
	}
	if _, err := tf.Authorize(authorizeQuery(nil)); err != nil {
		t.Errorf("the registered redirect URI: %v", err)
	}
}

// TestAuthorizeErrorsGoBackWithState: once client and redirect URI are
// known, errors go to the redirect URI, with the state echoed.
func TestAuthorizeErrorsGoBackWithState(t *testing.T) {
	tf := newTestFlows(t)
	for _, tc := range []struct {
		name string
		set  map[string]string
		code string
	}{
		{name: "PKCE plain refused", set: map[string]string{"code_challenge_method": "plain", "code_challenge": testVerifier}, code: "invalid_request"},
		{name: "PKCE method missing (plain by default) refused", set: map[string]string{"code_challenge_method": ""}, code: "invalid_request"},
		{name: "PKCE challenge missing", set: map[string]string{"code_challenge": ""}, code: "invalid_request"},
		{name: "PKCE challenge not S256-shaped", set: map[string]string{"code_challenge": "short"}, code: "invalid_request"},
		{name: "PKCE unknown method", set: map[string]string{"code_challenge_method": "S512"}, code: "invalid_request"},
		{name: "token response type", set: map[string]string{"response_type": "token"}, code: "unsupported_response_type"},
		{name: "aud of another server", set: map[string]string{"aud": "http://127.0.0.1:9/fhir"}, code: "invalid_request"},
		{name: "aud missing", set: map[string]string{"aud": ""}, code: "invalid_request"},
		{name: "no scope", set: map[string]string{"scope": ""}, code: "invalid_scope"},
		{name: "unknown launch", set: map[string]string{"launch": "nope"}, code: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tf.Authorize(authorizeQuery(tc.set))
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *AuthError", err)
			}
			u, perr := url.Parse(ae.Redirect)
			if ae.Redirect == "" || perr != nil || !strings.HasPrefix(ae.Redirect, testRedirect+"?") {
				t.Fatalf("redirect %q, want to %s", ae.Redirect, testRedirect)
			}
			q := u.Query()
			if q.Get("error") != tc.code || q.Get("state") != "state-123" || q.Get("error_description") == "" || q.Has("code") {
				t.Errorf("redirect query %v, want error=%s, a description and state=state-123", q, tc.code)
			}
		})
	}
	// Without state, nothing goes back that a client could match.
	_, err := tf.Authorize(authorizeQuery(map[string]string{"state": ""}))
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Code != "invalid_request" || strings.Contains(ae.Redirect, "code=") {
		t.Errorf("no state: %v", err)
	}
	// A repeated parameter is refused.
	q := authorizeQuery(nil)
	q.Add("scope", "user/*.cruds")
	if _, err := tf.Authorize(q); !errors.As(err, &ae) || ae.Code != "invalid_request" {
		t.Errorf("repeated scope: %v", err)
	}
}

func TestDenyEchoesState(t *testing.T) {
	tf := newTestFlows(t)
	req, err := tf.Authorize(authorizeQuery(nil))
	if err != nil {
		t.Fatal(err)
	}
	to, err := tf.Deny(req.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	if q := u.Query(); q.Get("error") != "access_denied" || q.Get("state") != "state-123" {
		t.Errorf("deny redirect %q", to)
	}
	if _, err := tf.Approve(req.ID, Approval{}); !errors.Is(err, ErrNoRequest) {
		t.Errorf("approve after deny: %v, want ErrNoRequest", err)
	}
}

func TestCodeExchange(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]string
		advance time.Duration
		code    string // "" for success
	}{
		{name: "good", code: ""},
		{name: "PKCE verifier mismatch", set: map[string]string{"code_verifier": strings.Repeat("x", 50)}, code: "invalid_grant"},
		{name: "PKCE verifier missing", set: map[string]string{"code_verifier": ""}, code: "invalid_request"},
		{name: "PKCE plain: the challenge sent as verifier", set: map[string]string{"code_verifier": challengeOf(testVerifier)}, code: "invalid_grant"},
		{name: "PKCE verifier too short", set: map[string]string{"code_verifier": "abc"}, code: "invalid_grant"},
		{name: "redirect_uri differs", set: map[string]string{"redirect_uri": testRedirect + "index.html"}, code: "invalid_grant"},
		{name: "redirect_uri missing", set: map[string]string{"redirect_uri": ""}, code: "invalid_request"},
		{name: "another client", set: map[string]string{"client_id": "other-app"}, code: "invalid_grant"},
		{name: "unknown code", set: map[string]string{"code": "made-up"}, code: "invalid_grant"},
		{name: "expired code", advance: DefaultCodeTTL, code: "invalid_grant"},
		{name: "code just before expiry", advance: DefaultCodeTTL - time.Second, code: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tf := newTestFlows(t)
			c := tf.approve(t, authorizeQuery(nil), Approval{Scopes: []string{"launch/patient", "patient/Patient.r"}, Patient: "example"})
			tf.now = tf.now.Add(tc.advance)
			resp, err := tf.Token(exchangeForm(c, tc.set))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if resp["access_token"] == nil || resp["token_type"] != "Bearer" {
					t.Errorf("response %v", resp)
				}
				return
			}
			if got := tokenErrorCode(t, err); got != tc.code {
				t.Errorf("error %q, want %q", got, tc.code)
			}
			if resp != nil {
				t.Errorf("a response with an error: %v", resp)
			}
		})
	}
}

// TestCodeIsSingleUse: a code is consumed by its first redemption, a
// failed one included; redeeming it again revokes the refresh token
// issued from it.
func TestCodeIsSingleUse(t *testing.T) {
	tf := newTestFlows(t)
	c := tf.approve(t, authorizeQuery(nil), Approval{Scopes: []string{"launch/patient", "offline_access", "patient/Patient.r"}, Patient: "example"})
	resp, err := tf.Token(exchangeForm(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Token(exchangeForm(c, nil)); tokenErrorCode(t, err) != "invalid_grant" {
		t.Errorf("reused code: %v", err)
	}
	rt, _ := resp["refresh_token"].(string)
	if _, err := tf.Token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"demo-app"}}); tokenErrorCode(t, err) != "invalid_grant" {
		t.Errorf("refresh token of a reused code: %v, want it revoked", err)
	}

	c = tf.approve(t, authorizeQuery(nil), Approval{Scopes: []string{"launch/patient", "patient/Patient.r"}, Patient: "example"})
	if _, err := tf.Token(exchangeForm(c, map[string]string{"code_verifier": strings.Repeat("y", 43)})); tokenErrorCode(t, err) != "invalid_grant" {
		t.Fatalf("wrong verifier: %v", err)
	}
	if _, err := tf.Token(exchangeForm(c, nil)); tokenErrorCode(t, err) != "invalid_grant" {
		t.Errorf("the right verifier after a wrong one: %v, want the code consumed", err)
	}
}

func TestTokensCarryExactlyTheApprovedScopesAndThePickedPatient(t *testing.T) {
	tf := newTestFlows(t)
	q := authorizeQuery(map[string]string{"scope": "launch/patient openid fhirUser offline_access patient/Patient.r " +
		"patient/Observation.rs patient/Observation.c system/*.rs online_access launch"})
	req, err := tf.Authorize(q)
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range req.Scopes {
		want := !slices.Contains([]string{"system/*.rs", "online_access", "launch"}, rs.Scope)
		if rs.Grantable != want || rs.Note == "" {
			t.Errorf("%s: grantable %v (%q), want %v with a note", rs.Scope, rs.Grantable, rs.Note, want)
		}
	}
	if !req.NeedsPatientPick() || req.OffersEncounterPick() || !req.Standalone() {
		t.Errorf("standalone launch/patient request: pick %v, encounter %v", req.NeedsPatientPick(), req.OffersEncounterPick())
	}
	if _, err := tf.Approve(req.ID, Approval{Scopes: []string{"system/*.rs"}}); err == nil {
		t.Error("approving a scope the server never grants succeeded")
	}
	if _, err := tf.Approve(req.ID, Approval{Scopes: []string{"user/*.cruds"}}); err == nil {
		t.Error("approving a scope that was not requested succeeded")
	}
	if _, err := tf.Approve(req.ID, Approval{Scopes: []string{"launch/patient", "patient/Patient.r"}}); err == nil {
		t.Error("launch/patient approved without a patient picked")
	}
	// The user unticks patient/Observation.rs and picks patient "other".
	approved := []string{"patient/Observation.c", "openid", "launch/patient", "fhirUser", "offline_access", "patient/Patient.r"}
	to, err := tf.Approve(req.ID, Approval{Scopes: approved, Patient: "other", FHIRUser: "Practitioner/dr-jones"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	resp, err := tf.Token(exchangeForm(u.Query().Get("code"), nil))
	if err != nil {
		t.Fatal(err)
	}
	const want = "launch/patient openid fhirUser offline_access patient/Patient.r patient/Observation.c" // the request's order
	if resp["scope"] != want || resp["patient"] != "other" || resp["encounter"] != nil {
		t.Errorf("token response scope %q patient %v encounter %v", resp["scope"], resp["patient"], resp["encounter"])
	}
	if resp["expires_in"] != 300 || resp["refresh_token"] == nil || resp["id_token"] == nil {
		t.Errorf("token response %v: want expires_in 300, a refresh token and an id token", resp)
	}
	at := tf.claimsOf(t, resp["access_token"].(string))
	for k, v := range map[string]any{"scope": want, "patient": "other", "aud": testAudience, "iss": "http://127.0.0.1:8080/auth",
		"client_id": "demo-app", "sub": "Practitioner/dr-jones", "fhirUser": "Practitioner/dr-jones"} {
		if at[k] != v {
			t.Errorf("access token %s = %v, want %v", k, at[k], v)
		}
	}
	if _, ok := at["encounter"]; ok {
		t.Errorf("access token has an encounter: %v", at)
	}
	id := tf.claimsOf(t, resp["id_token"].(string))
	if id["aud"] != "demo-app" || id["fhirUser"] != "Practitioner/dr-jones" || id["scope"] != nil {
		t.Errorf("id token %v", id)
	}
}

func TestWithoutOptionalScopesNothingExtraIsIssued(t *testing.T) {
	tf := newTestFlows(t)
	q := authorizeQuery(map[string]string{"scope": "launch/patient openid fhirUser offline_access patient/Patient.r"})
	c := tf.approve(t, q, Approval{Scopes: []string{"patient/Patient.r"}, FHIRUser: "Practitioner/dr-jones"})
	resp, err := tf.Token(exchangeForm(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp["scope"] != "patient/Patient.r" || resp["patient"] != nil || resp["refresh_token"] != nil || resp["id_token"] != nil {
		t.Errorf("response %v: want only patient/Patient.r, no patient, no refresh or id token", resp)
	}
	if at := tf.claimsOf(t, resp["access_token"].(string)); at["patient"] != nil || at["fhirUser"] != nil {
		t.Errorf("access token %v: no patient or fhirUser without their scopes", at)
	}
}

func TestEHRLaunch(t *testing.T) {
	tf := newTestFlows(t)
	launch, err := tf.NewLaunch(Launch{Patient: "third", Encounter: "third-visit"})
	if err != nil {
		t.Fatal(err)
	}
	q := authorizeQuery(map[string]string{"launch": launch, "scope": "launch openid patient/Patient.r patient/Encounter.r"})
	req, err := tf.Authorize(q)
	if err != nil {
		t.Fatal(err)
	}
	if req.Standalone() || req.Launch.Patient != "third" || req.NeedsPatientPick() || !req.Asks("launch") {
		t.Fatalf("request %+v", req)
	}
	if _, err := tf.Approve(req.ID, Approval{Scopes: []string{"launch"}, Patient: "example"}); err == nil {
		t.Error("the user replaced the EHR's patient")
	}
	to, err := tf.Approve(req.ID, Approval{Scopes: []string{"launch", "patient/Patient.r", "patient/Encounter.r"}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	resp, err := tf.Token(exchangeForm(u.Query().Get("code"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp["patient"] != "third" || resp["encounter"] != "third-visit" {
		t.Errorf("response %v, want the launch's patient and encounter", resp)
	}
	// A launch is single use.
	_, err = tf.Authorize(q)
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(ae.Redirect, "error=invalid_request") {
		t.Errorf("launch used twice: %v", err)
	}
	// Without the launch scope the EHR's context is not given.
	launch, _ = tf.NewLaunch(Launch{Patient: "third"})
	c := tf.approve(t, authorizeQuery(map[string]string{"launch": launch, "scope": "launch patient/Patient.r"}),
		Approval{Scopes: []string{"patient/Patient.r"}})
	if resp, err := tf.Token(exchangeForm(c, nil)); err != nil || resp["patient"] != nil {
		t.Errorf("launch unticked: %v %v, want no patient", resp, err)
	}
	// An expired launch is refused.
	launch, _ = tf.NewLaunch(Launch{Patient: "third"})
	tf.now = tf.now.Add(DefaultLaunchTTL)
	if _, err := tf.Authorize(authorizeQuery(map[string]string{"launch": launch})); !errors.As(err, &ae) || ae.Code != "invalid_request" {
		t.Errorf("expired launch: %v", err)
	}
}

func TestStandaloneEncounterPick(t *testing.T) {
	tf := newTestFlows(t)
	q := authorizeQuery(map[string]string{"scope": "launch/patient launch/encounter patient/Encounter.r"})
	req, err := tf.Authorize(q)
	if err != nil {
		t.Fatal(err)
	}
	if !req.OffersEncounterPick() {
		t.Fatal("no encounter pick offered")
	}
	if _, err := tf.Approve(req.ID, Approval{Scopes: []string{"launch/encounter"}, Encounter: "e1"}); err == nil {
		t.Error("an encounter without a patient")
	}
	if _, err := tf.Approve(req.ID, Approval{Scopes: []string{"launch/patient"}, Patient: "example", Encounter: "e1"}); err == nil {
		t.Error("an encounter with launch/encounter unticked")
	}
	to, err := tf.Approve(req.ID, Approval{Scopes: []string{"launch/patient", "launch/encounter"}, Patient: "example", Encounter: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	if resp, err := tf.Token(exchangeForm(u.Query().Get("code"), nil)); err != nil || resp["encounter"] != "e1" || resp["patient"] != "example" {
		t.Errorf("response %v %v", resp, err)
	}
}

func TestRefresh(t *testing.T) {
	tf := newTestFlows(t)
	c := tf.approve(t, authorizeQuery(nil), Approval{Scopes: []string{"launch/patient", "offline_access", "patient/Patient.r",
		"patient/Observation.rs"}, Patient: "example", FHIRUser: "Practitioner/dr-jones"})
	first, err := tf.Token(exchangeForm(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string, extra map[string]string) (map[string]any, error) {
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"demo-app"}}
		for k, v := range extra {
			f.Set(k, v)
		}
		return tf.Token(f)
	}
	tf.now = tf.now.Add(10 * time.Minute) // the access token (5 min) has expired
	second, err := refresh(first["refresh_token"].(string), nil)
	if err != nil {
		t.Fatal(err)
	}
	if second["access_token"] == first["access_token"] || second["refresh_token"] == first["refresh_token"] || second["refresh_token"] == nil {
		t.Errorf("refresh did not issue new tokens: %v", second)
	}
	at := tf.claimsOf(t, second["access_token"].(string)) // verifies exp against the moved clock
	if at["patient"] != "example" || at["scope"] != first["scope"] || second["patient"] != "example" {
		t.Errorf("refreshed token %v, response %v: same patient and scopes expected", at, second)
	}
	if _, err := refresh(second["refresh_token"].(string), map[string]string{"scope": "patient/Observation.rs user/*.rs"}); tokenErrorCode(t, err) != "invalid_scope" {
		t.Errorf("widening on refresh: %v", err)
	}
	third, err := refresh(second["refresh_token"].(string), map[string]string{"scope": "patient/Observation.rs offline_access"})
	if err != nil {
		t.Fatal(err)
	}
	if third["scope"] != "patient/Observation.rs offline_access" {
		t.Errorf("narrowed scope %q", third["scope"])
	}
	if _, err := refresh(third["refresh_token"].(string), map[string]string{"client_id": "other-app"}); tokenErrorCode(t, err) != "invalid_grant" {
		t.Errorf("another client's refresh token: %v", err)
	}
	// third's token is not consumed by the other client's attempt.
	fourth, err := refresh(third["refresh_token"].(string), nil)
	if err != nil {
		t.Fatalf("refresh after another client's attempt: %v", err)
	}
	// Reusing a rotated refresh token revokes the whole grant.
	if _, err := refresh(first["refresh_token"].(string), nil); tokenErrorCode(t, err) != "invalid_grant" {
		t.Errorf("reused refresh token: %v", err)
	}
	if _, err := refresh(fourth["refresh_token"].(string), nil); tokenErrorCode(t, err) != "invalid_grant" {
		t.Errorf("refresh token of a revoked grant: %v", err)
	}
	if _, err := refresh("made-up", nil); tokenErrorCode(t, err) != "invalid_grant" {
		t.Errorf("unknown refresh token: %v", err)
	}
	// An expired refresh token is refused.
	c = tf.approve(t, authorizeQuery(nil), Approval{Scopes: []string{"offline_access"}})
	resp, err := tf.Token(exchangeForm(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	tf.now = tf.now.Add(DefaultRefreshTTL)
	if _, err := refresh(resp["refresh_token"].(string), nil); tokenErrorCode(t, err) != "invalid_grant" {
		t.Errorf("expired refresh token: %v", err)
	}
}

func TestExpiredRequestCannotBeApproved(t *testing.T) {
	tf := newTestFlows(t)
	req, err := tf.Authorize(authorizeQuery(nil))
	if err != nil {
		t.Fatal(err)
	}
	tf.now = tf.now.Add(DefaultRequestTTL)
	if _, err := tf.Approve(req.ID, Approval{}); !errors.Is(err, ErrNoRequest) {
		t.Errorf("expired request: %v", err)
	}
	if _, ok := tf.Pending(req.ID); ok {
		t.Error("expired request still pending")
	}
}

func TestFlowsRefuseBadClients(t *testing.T) {
	iss, err := testissuer.New("ES256")
	if err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{"http://192.0.2.1/app/", "https://app.example.org/cb", "http://127.0.0.1/app/#x", "/app/", "custom:cb"} {
		if _, err := New(iss, FlowsConfig{Audience: testAudience, Clients: []Client{{ID: "c", RedirectURIs: []string{uri}}}}); err == nil {
			t.Errorf("redirect URI %q accepted", uri)
		}
	}
	if _, err := New(iss, FlowsConfig{Clients: []Client{{ID: "c", RedirectURIs: []string{testRedirect}}}}); err == nil {
		t.Error("no audience accepted")
	}
}

func TestTokenHandler(t *testing.T) {
	tf := newTestFlows(t)
	var fallback string
	h := tf.TokenHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fallback = r.PostForm.Get("grant_type")
		w.WriteHeader(299)
	}))
	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := post(url.Values{"grant_type": {"client_credentials"}}); w.Code != 299 || fallback != "client_credentials" {
		t.Errorf("client_credentials: %d, fallback saw %q", w.Code, fallback)
	}
	c := tf.approve(t, authorizeQuery(nil), Approval{Scopes: []string{"patient/Patient.r"}})
	w := post(exchangeForm(c, nil))
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Errorf("exchange: %d %v", w.Code, w.Header())
	}
	w = post(exchangeForm(c, nil))
	var e struct{ Error, ErrorDescription string }
	json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != 400 || e.Error != "invalid_grant" {
		t.Errorf("reused code: %d %s", w.Code, w.Body)
	}
}

// TestMetadataWithFlows: the OpenID metadata advertises what the flows
// serve, every scope it advertises is a SMART scope, and a SMART document
// built from it with every capability they support is valid.
func TestMetadataWithFlows(t *testing.T) {
	tf := newTestFlows(t)
	var m struct {
		Grants []string `json:"grant_types_supported"`
		Scopes []string `json:"scopes_supported"`
		PKCE   []string `json:"code_challenge_methods_supported"`
	}
	if err := json.Unmarshal(tf.iss.Metadata("/token"), &m); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Grants, []string{"authorization_code", "client_credentials", "refresh_token"}) || !slices.Equal(m.PKCE, []string{"S256"}) {
		t.Errorf("grants %q, PKCE %q", m.Grants, m.PKCE)
	}
	for _, s := range []string{"launch", "launch/encounter", "offline_access"} {
		if !slices.Contains(m.Scopes, s) {
			t.Errorf("scopes_supported lacks %s", s)
		}
	}
	for _, s := range m.Scopes {
		if _, err := scope.ParseScope(s); err != nil {
			t.Errorf("scopes_supported %q: %v", s, err)
		}
	}
	srv := httptest.NewServer(tf.iss.Handler("/token"))
	defer srv.Close()
	tf.iss.SetURL(srv.URL)
	doc, err := wellknown.FromIssuer(t.Context(), srv.URL, srv.Client(),
		wellknown.LaunchEHR, wellknown.LaunchStandalone, wellknown.ClientPublic, wellknown.ContextEHRPatient,
		wellknown.ContextEHREncounter, wellknown.ContextStandalonePatient, wellknown.ContextStandaloneEncounter,
		wellknown.PermissionOffline, wellknown.PermissionPatient, wellknown.PermissionUser, wellknown.PermissionV1,
		wellknown.PermissionV2, wellknown.SSOOpenIDConnect)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(); err != nil {
		t.Error(err)
	}
}
