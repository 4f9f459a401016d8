package devauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// revocations records what the revocation endpoint passes on, and fails
// while fail is set.
type revocations struct {
	got  []RevokedToken
	fail bool
}

func (r *revocations) revoked(_ context.Context, t RevokedToken) error {
	if r.fail {
		return errors.New("resource server unreachable")
	}
	r.got = append(r.got, t)
	return nil
}

func (r *revocations) jtis() []string {
	var out []string
	for _, t := range r.got {
		out = append(out, t.JTI)
	}
	slices.Sort(out)
	return out
}

// newRevokingFlows is newTestFlows whose revocations reach r.
func newRevokingFlows(t *testing.T, r *revocations) *testFlows {
	tf := newTestFlows(t)
	tf.cfg.Revoked = r.revoked
	return tf
}

// grantWithRefresh returns the tokens of an approved grant with
// offline_access.
func (tf *testFlows) grantWithRefresh(t *testing.T) map[string]any {
	t.Helper()
	c := tf.approve(t, authorizeQuery(nil), Approval{Scopes: []string{"launch/patient", "openid", "offline_access", "patient/Patient.r"},
		Patient: "example", FHIRUser: "Practitioner/dr-jones"})
	resp, err := tf.Token(exchangeForm(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func revokeForm(token, client string) url.Values {
	f := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if client != "" {
		f.Set("client_id", client)
	}
	return f
}

// TestRevokeAccessToken: an access token of the client is passed on with
// its issuer, jti and exp; what is not an access token of this server
// answers nil (RFC 7009 §2.2) and passes nothing on; a bad request, an
// unknown client or another client's token is refused.
func TestRevokeAccessToken(t *testing.T) {
	r := &revocations{}
	tf := newRevokingFlows(t, r)
	resp := tf.grantWithRefresh(t)
	at := resp["access_token"].(string)
	c := tf.claimsOf(t, at)
	expired := tf.grantWithRefresh(t)["access_token"].(string)
	for _, tc := range []struct {
		name string
		form url.Values
		code string // "" for nil
	}{
		{"an id token", revokeForm(resp["id_token"].(string), "demo-app"), ""},
		{"unknown", revokeForm("made-up", "demo-app"), ""},
		{"another client's", revokeForm(at, "other-app"), "invalid_request"},
		{"no client", revokeForm(at, ""), "invalid_client"},
		{"unregistered client", revokeForm(at, "nobody"), "invalid_client"},
		{"no token", url.Values{"client_id": {"demo-app"}}, "invalid_request"},
		{"repeated token", url.Values{"client_id": {"demo-app"}, "token": {at, at}}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tf.Revoke(t.Context(), tc.form)
			if tc.code == "" && err != nil || tc.code != "" && tokenErrorCode(t, err) != tc.code {
				t.Fatalf("Revoke: %v, want %q", err, tc.code)
			}
			if len(r.got) != 0 {
				t.Fatalf("passed on %v", r.got)
			}
		})
	}
	if err := tf.Revoke(t.Context(), revokeForm(at, "demo-app")); err != nil {
		t.Fatal(err)
	}
	if len(r.got) != 1 || r.got[0].JTI != c["jti"] || r.got[0].Issuer != tf.iss.URL() || r.got[0].ExpiresAt.Unix() != int64(c["exp"].(float64)) {
		t.Fatalf("passed on %+v, want jti %v, issuer %s, exp %v", r.got, c["jti"], tf.iss.URL(), c["exp"])
	}
	tf.now = tf.now.Add(time.Hour) // 5-minute tokens
	if err := tf.Revoke(t.Context(), revokeForm(expired, "demo-app")); err != nil || len(r.got) != 1 {
		t.Fatalf("an expired token: %v, %d passed on; want nil and nothing", err, len(r.got))
	}
}

// TestRevokeRefreshTokenRevokesItsGrant: revoking a refresh token makes
// every refresh token of its grant unusable and passes on every
// unexpired access token issued from it; when passing on fails the answer
// is 503 and asking again passes them on.
func TestRevokeRefreshTokenRevokesItsGrant(t *testing.T) {
	r := &revocations{fail: true}
	tf := newRevokingFlows(t, r)
	first := tf.grantWithRefresh(t)
	second, err := tf.Token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}, "client_id": {"demo-app"}})
	if err != nil {
		t.Fatal(err)
	}
	other := tf.grantWithRefresh(t) // another grant: untouched
	rt := second["refresh_token"].(string)
	want := []string{tf.claimsOf(t, first["access_token"].(string))["jti"].(string), tf.claimsOf(t, second["access_token"].(string))["jti"].(string)}
	slices.Sort(want)

	var te *TokenError
	if err := tf.Revoke(t.Context(), revokeForm(rt, "demo-app")); !errors.As(err, &te) || te.Status != 503 {
		t.Fatalf("with the resource server unreachable: %v, want 503", err)
	}
	r.fail = false
	if err := tf.Revoke(t.Context(), revokeForm(rt, "demo-app")); err != nil {
		t.Fatal(err)
	}
	if got := r.jtis(); !slices.Equal(got, want) {
		t.Fatalf("passed on %q, want the grant's access tokens %q", got, want)
	}
	for _, old := range []string{rt, first["refresh_token"].(string)} {
		_, err := tf.Token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {"demo-app"}})
		if tokenErrorCode(t, err) != "invalid_grant" {
			t.Errorf("refresh with a revoked grant's token: %v, want invalid_grant", err)
		}
	}
	if _, err := tf.Token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {other["refresh_token"].(string)}, "client_id": {"demo-app"}}); err != nil {
		t.Errorf("another grant's refresh token: %v", err)
	}
	if err := tf.Revoke(t.Context(), revokeForm(other["refresh_token"].(string), "other-app")); tokenErrorCode(t, err) != "invalid_request" {
		t.Errorf("another client's refresh token: %v", err)
	}
}

// TestRevokeWithoutResourceServer: without FlowsConfig.Revoked an access
// token cannot be revoked (unsupported_token_type), a refresh token can.
func TestRevokeWithoutResourceServer(t *testing.T) {
	tf := newTestFlows(t)
	resp := tf.grantWithRefresh(t)
	if err := tf.Revoke(t.Context(), revokeForm(resp["access_token"].(string), "demo-app")); tokenErrorCode(t, err) != "unsupported_token_type" {
		t.Errorf("access token: %v, want unsupported_token_type", err)
	}
	if err := tf.Revoke(t.Context(), revokeForm(resp["refresh_token"].(string), "demo-app")); err != nil {
		t.Errorf("refresh token: %v", err)
	}
}

// TestRevocationHandler: the endpoint answers 200 without a body for a
// revoked or unknown token, the token endpoint's JSON errors otherwise,
// with Retry-After on 503; the metadata advertises it.
func TestRevocationHandler(t *testing.T) {
	r := &revocations{}
	tf := newRevokingFlows(t, r)
	at := tf.grantWithRefresh(t)["access_token"].(string)
	h := tf.RevocationHandler()
	post := func(form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, RevocationPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		fail   bool
		status int
		error  string
	}{
		{"revoked", revokeForm(at, "demo-app"), false, 200, ""},
		{"unknown", revokeForm("made-up", "demo-app"), false, 200, ""},
		{"no client", revokeForm(at, ""), false, 401, "invalid_client"},
		{"resource server down", revokeForm(at, "demo-app"), true, 503, "temporarily_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.fail = tc.fail
			w := post(tc.form)
			var e struct{ Error string }
			json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != tc.status || e.Error != tc.error || tc.status == 200 && w.Body.Len() != 0 {
				t.Fatalf("%d %s, want %d %q", w.Code, w.Body, tc.status, tc.error)
			}
			if tc.status == 503 && w.Header().Get("Retry-After") != "5" {
				t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
			}
		})
	}
	var m struct {
		Revocation string   `json:"revocation_endpoint"`
		Auth       []string `json:"revocation_endpoint_auth_methods_supported"`
	}
	if err := json.Unmarshal(tf.iss.Metadata("/token"), &m); err != nil {
		t.Fatal(err)
	}
	if m.Revocation != tf.iss.URL()+RevocationPath || !slices.Equal(m.Auth, []string{"none"}) {
		t.Errorf("metadata: revocation_endpoint %q, auth methods %q", m.Revocation, m.Auth)
	}
}
