package devauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smartguard/smartguard/internal/testissuer"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// dpopFlows is a testFlows whose token endpoint binds tokens to DPoP
// keys, served by TokenHandler; next records the bound key of the grant
// types it is handed.
type dpopFlows struct {
	*testFlows
	h        http.Handler
	boundKey string // BoundKey of the last request handed to next
}

func newDPoPFlows(t *testing.T) *dpopFlows {
	t.Helper()
	iss, err := testissuer.New("ES256")
	if err != nil {
		t.Fatal(err)
	}
	iss.SetURL("http://127.0.0.1:8080/auth")
	df := &dpopFlows{testFlows: &testFlows{iss: iss, now: time.Now()}}
	checker, err := NewProofChecker(ProofConfig{TokenEndpoint: testTokenEndpoint, Replays: smartmw.NewMemoryStore(0),
		Now: func() time.Time { return df.now }})
	if err != nil {
		t.Fatal(err)
	}
	df.Flows, err = New(iss, FlowsConfig{
		Audience: testAudience, Clients: []Client{{ID: "demo-app", RedirectURIs: []string{testRedirect}}},
		Now: func() time.Time { return df.now }, DPoP: checker,
	})
	if err != nil {
		t.Fatal(err)
	}
	df.h = df.TokenHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		df.boundKey = BoundKey(r.Context())
		w.WriteHeader(299)
	}))
	return df
}

// post sends form to the token endpoint with a proof by key (none when
// key is nil) and returns the status and the JSON answer.
func (df *dpopFlows) post(t *testing.T, form url.Values, key *smarttest.DPoPKey) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, testTokenEndpoint, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != nil {
		r.Header.Set("DPoP", key.Proof(t, http.MethodPost, testTokenEndpoint, "", smarttest.ProofIssuedAt(df.now)))
	}
	w := httptest.NewRecorder()
	df.h.ServeHTTP(w, r)
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"demo-app"}}
}

// TestDPoPBindsTokensAndRefreshTokens: a code redeemed with a proof gives
// a DPoP token bound to the proof's key, and a refresh token that only a
// proof of that key redeems (RFC 9449 §5); without a proof, bearer tokens.
func TestDPoPBindsTokensAndRefreshTokens(t *testing.T) {
	df := newDPoPFlows(t)
	key, other := smarttest.NewDPoPKey(t, "ES256"), smarttest.NewDPoPKey(t, "ES256")
	scopes := Approval{Scopes: []string{"launch/patient", "offline_access", "patient/Patient.r"}, Patient: "example"}

	status, resp := df.post(t, exchangeForm(df.approve(t, authorizeQuery(nil), scopes), nil), key)
	if status != 200 || resp["token_type"] != "DPoP" {
		t.Fatalf("exchange with a proof: %d %v", status, resp)
	}
	if cnf, _ := df.claimsOf(t, resp["access_token"].(string))["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
		t.Errorf("cnf %v, want jkt %s", cnf, key.Thumbprint())
	}
	rt := resp["refresh_token"].(string)
	for name, k := range map[string]*smarttest.DPoPKey{"no proof": nil, "another key": other} {
		if status, resp := df.post(t, refreshForm(rt), k); status != 400 || resp["error"] != "invalid_grant" {
			t.Errorf("refresh with %s: %d %v, want invalid_grant", name, status, resp)
		}
	}
	status, resp = df.post(t, refreshForm(rt), key)
	if status != 200 || resp["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key: %d %v", status, resp)
	}
	if cnf, _ := df.claimsOf(t, resp["access_token"].(string))["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
		t.Errorf("refreshed cnf %v", cnf)
	}

	status, resp = df.post(t, exchangeForm(df.approve(t, authorizeQuery(nil), scopes), nil), nil)
	if _, bound := df.claimsOf(t, resp["access_token"].(string))["cnf"]; status != 200 || resp["token_type"] != "Bearer" || bound {
		t.Errorf("exchange without a proof: %d %v, want an unbound Bearer token", status, resp)
	}

	if status, _ := df.post(t, url.Values{"grant_type": {"client_credentials"}}, key); status != 299 || df.boundKey != key.Thumbprint() {
		t.Errorf("client_credentials with a proof: %d, BoundKey %q", status, df.boundKey)
	}
	if status, _ := df.post(t, url.Values{"grant_type": {"client_credentials"}}, nil); status != 299 || df.boundKey != "" {
		t.Errorf("client_credentials without a proof: %d, BoundKey %q", status, df.boundKey)
	}
}

// TestDPoPJKTBindsTheCode: a code asked for with dpop_jkt (RFC 9449 §10)
// is redeemed only with a proof of that key.
func TestDPoPJKTBindsTheCode(t *testing.T) {
	df := newDPoPFlows(t)
	key, other := smarttest.NewDPoPKey(t, "ES256"), smarttest.NewDPoPKey(t, "ES256")
	q := authorizeQuery(map[string]string{"dpop_jkt": key.Thumbprint()})
	approval := Approval{Scopes: []string{"patient/Patient.r"}}
	for name, k := range map[string]*smarttest.DPoPKey{"no proof": nil, "another key": other} {
		if status, resp := df.post(t, exchangeForm(df.approve(t, q, approval), nil), k); status != 400 || resp["error"] != "invalid_grant" {
			t.Errorf("code bound by dpop_jkt, %s: %d %v", name, status, resp)
		}
	}
	if status, resp := df.post(t, exchangeForm(df.approve(t, q, approval), nil), key); status != 200 || resp["token_type"] != "DPoP" {
		t.Errorf("code bound by dpop_jkt, its key: %d %v", status, resp)
	}
	if _, err := df.Authorize(authorizeQuery(map[string]string{"dpop_jkt": "short"})); err == nil {
		t.Error("a dpop_jkt that is no thumbprint accepted")
	}
}

// TestWithoutDPoPProofsAreRefused: flows without a ProofChecker refuse
// a DPoP header and dpop_jkt rather than issue bearer tokens to a client
// that asked for bound ones.
func TestWithoutDPoPProofsAreRefused(t *testing.T) {
	tf := newTestFlows(t)
	h := tf.TokenHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }))
	for _, form := range []url.Values{{"grant_type": {"client_credentials"}}, refreshForm("x")} {
		r := httptest.NewRequest(http.MethodPost, testTokenEndpoint, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("DPoP", smarttest.NewDPoPKey(t, "ES256").Proof(t, http.MethodPost, testTokenEndpoint, ""))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "invalid_dpop_proof") {
			t.Errorf("%s with a proof: %d %s", form.Get("grant_type"), w.Code, w.Body)
		}
	}
	if _, err := tf.Authorize(authorizeQuery(map[string]string{"dpop_jkt": smarttest.NewDPoPKey(t, "ES256").Thumbprint()})); err == nil {
		t.Error("dpop_jkt accepted by flows that do not bind tokens")
	}
}
