package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/wellknown"
)

// revokeAt posts an RFC 7009 revocation request to the demo's endpoint,
// as the printed curl command does.
func revokeAt(t *testing.T, d *demo, form url.Values) page {
	t.Helper()
	return fetch(t, http.MethodPost, d.issuer+"/revoke", form)
}

// wantRevoked fails unless the FHIR API refuses tok as revoked.
func wantRevoked(t *testing.T, d *demo, tok string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.audience+"/Patient/example", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.Contains(c, `error="invalid_token"`) ||
		!strings.Contains(c, `error_description="the token has been revoked"`) {
		t.Fatalf("the revoked token: %d %q, want 401 invalid_token: the token has been revoked", resp.StatusCode, c)
	}
}

// TestPrintedRevocationWorks: the embedded authorization server advertises
// its RFC 7009 endpoint in the SMART and OpenID documents; a token revoked
// there, as the welcome text shows, is refused by the FHIR API at once
// although the guard has it cached, and other tokens are not; unknown
// tokens answer 200 and clients must name themselves.
func TestPrintedRevocationWorks(t *testing.T) {
	d, printed := startDemo(t)
	for _, want := range []string{"curl -s " + d.issuer + "/revoke -d client_id=demo-app --data-urlencode \"token=$TOKEN\"",
		"curl -si -H \"Authorization: Bearer $TOKEN\" " + d.audience + "/Patient/example"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the welcome text lacks %q:\n%s", want, printed)
		}
	}
	var doc wellknown.Configuration
	if err := json.Unmarshal([]byte(fetch(t, http.MethodGet, d.audience+"/.well-known/smart-configuration", nil).body), &doc); err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := json.Unmarshal([]byte(fetch(t, http.MethodGet, d.issuer+"/.well-known/openid-configuration", nil).body), &meta); err != nil {
		t.Fatal(err)
	}
	if doc.RevocationEndpoint != d.issuer+"/revoke" || meta.Revocation != doc.RevocationEndpoint {
		t.Errorf("revocation_endpoint %q (SMART), %q (OpenID), want %s/revoke", doc.RevocationEndpoint, meta.Revocation, d.issuer)
	}

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"launch/patient patient/Patient.r patient/Observation.rs"}, "patient": {"example"}}
	tok, other := tokenFor(t, d, form), tokenFor(t, d, form)
	for _, x := range []string{tok, other} {
		if code, body := get(t, d.audience+"/Patient/example", x); code != 200 {
			t.Fatalf("before the revocation: %d %s", code, body) // and now cached
		}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"the token", url.Values{"token": {tok}, "client_id": {demoClientID}}, 200},
		{"again", url.Values{"token": {tok}, "client_id": {demoClientID}, "token_type_hint": {"access_token"}}, 200},
		{"an unknown token", url.Values{"token": {"made-up"}, "client_id": {demoClientID}}, 200},
		{"without client_id", url.Values{"token": {other}}, 401},
	} {
		if p := revokeAt(t, d, tc.form); p.status != tc.status {
			t.Errorf("revoke %s: %d %s, want %d", tc.name, p.status, p.body, tc.status)
		}
	}
	wantRevoked(t, d, tok)
	if code, body := get(t, d.audience+"/Patient/example", other); code != 200 {
		t.Errorf("another token after the revocation: %d %s", code, body)
	}
}

// TestRevokedRefreshTokenRefusesItsAccessTokens: an app of the browser
// flows revokes its refresh token: the access token issued with it is
// refused by the FHIR API at once, and the refresh token no longer
// refreshes ((g)(10) expects 400 or 401 there).
func TestRevokedRefreshTokenRefusesItsAccessTokens(t *testing.T) {
	d, _ := startDemo(t)
	_, id := consentFor(t, authorizeURL(d, "launch/patient offline_access patient/Patient.r", "s-r", ""))
	resp := redeem(t, d, fetch(t, http.MethodPost, d.issuer+"/consent",
		url.Values{"request": {id}, "decision": {"approve"}, "scope": {"launch/patient", "offline_access", "patient/Patient.r"}, "patient": {"example"}}), "s-r")
	tok, rt := resp["access_token"].(string), resp["refresh_token"].(string)
	if code, body := get(t, d.audience+"/Patient/example", tok); code != 200 {
		t.Fatalf("before the revocation: %d %s", code, body)
	}
	if p := revokeAt(t, d, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}, "client_id": {demoClientID}}); p.status != 200 {
		t.Fatalf("revoke the refresh token: %d %s", p.status, p.body)
	}
	wantRevoked(t, d, tok)
	rp := fetch(t, http.MethodPost, d.issuer+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {demoClientID}})
	if rp.status != 400 || !strings.Contains(rp.body, "invalid_grant") {
		t.Errorf("refresh with the revoked refresh token: %d %s, want 400 invalid_grant", rp.status, rp.body)
	}
}
