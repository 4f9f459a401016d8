package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

func TestDPoPFlags(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
		mode smartmw.DPoPMode
	}{
		{nil, true, smartmw.DPoPAllowed},
		{[]string{"-dpop", "off"}, true, smartmw.DPoPOff},
		{[]string{"-dpop", "required"}, true, smartmw.DPoPRequired},
		{[]string{"-dpop", "allowed", "-redis", "redis://127.0.0.1:6379/0", "-dpop-nonce-key", strings.Repeat("k", 32)}, true, smartmw.DPoPAllowed},
		{[]string{"-dpop", "on"}, false, 0},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f dpopFlags
		f.register(fs)
		if err := fs.Parse(tc.args); (err == nil) != tc.ok {
			t.Errorf("%q: Parse: %v", tc.args, err)
			continue
		}
		if tc.ok && f.guardMode() != tc.mode {
			t.Errorf("%q: mode %d, want %d", tc.args, f.guardMode(), tc.mode)
		}
	}
}

// TestDPoPFlagsRefuseWhatCannotWork: the demo does not start with a
// Redis store it cannot use or reach, nor a short nonce key.
func TestDPoPFlagsRefuseWhatCannotWork(t *testing.T) {
	for name, f := range map[string]dpopFlags{
		"not a redis URL":     {redis: "http://127.0.0.1:1/"},
		"redis not answering": {redis: "redis://127.0.0.1:1/0"},
		"nonce key too short": {nonceKey: "short"},
		"nonce key, DPoP off": {mode: smartmw.DPoPOff, set: true, nonceKey: strings.Repeat("k", 32)},
	} {
		if d, err := start(context.Background(), options{addr: "127.0.0.1:0", dpop: f}, io.Discard); err == nil {
			d.srv.Close()
			t.Errorf("%s: the demo started", name)
		}
	}
}

// dpopRequest sends method target with "Authorization: DPoP tok" and a
// proof by key for htu (target without its query, unless htu is set);
// opts change the proof. proof "" sends none.
func dpopRequest(t *testing.T, method, target, tok, proof string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, target, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// dpopToken asks the embedded token endpoint for a client_credentials
// token with a proof by key (none when key is nil).
func dpopToken(t *testing.T, d *demo, key *smarttest.DPoPKey, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != nil {
		req.Header.Set("DPoP", key.Proof(t, http.MethodPost, d.issuer+"/token", ""))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

var patientToken = url.Values{"grant_type": {"client_credentials"}, "scope": {"launch/patient patient/Patient.r"}, "patient": {"example"}}

// TestEmbeddedServerBindsTokensToDPoPKeys: a token asked for with a
// proof is DPoP-bound to its key, read with proofs of that key, and
// refused as a bearer token, without a proof, with a used proof or a
// proof for another URL or method.
func TestEmbeddedServerBindsTokensToDPoPKeys(t *testing.T) {
	d, _ := startDemo(t)
	key := smarttest.NewDPoPKey(t, "ES256")
	status, resp := dpopToken(t, d, key, patientToken)
	if status != 200 || resp["token_type"] != "DPoP" {
		t.Fatalf("token with a proof: %d %v", status, resp)
	}
	tok := resp["access_token"].(string)
	if cnf, _ := claims(t, tok)["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
		t.Errorf("cnf %v, want jkt %s", cnf, key.Thumbprint())
	}
	target := d.audience + "/Patient/example"
	proof := key.Proof(t, http.MethodGet, target, tok)
	if r := dpopRequest(t, http.MethodGet, target, tok, proof); r.StatusCode != 200 {
		t.Fatalf("DPoP read: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	other := smarttest.NewDPoPKey(t, "ES256")
	for name, tc := range map[string]struct{ proof, want string }{
		"the same proof again":    {proof, "invalid_dpop_proof"},
		"no proof":                {"", "invalid_dpop_proof"},
		"a proof for another URL": {key.Proof(t, http.MethodGet, d.audience+"/Patient/other", tok), "invalid_dpop_proof"},
		"a proof for POST":        {key.Proof(t, http.MethodPost, target, tok), "invalid_dpop_proof"},
		"another key's proof":     {other.Proof(t, http.MethodGet, target, tok), "invalid_token"},
	} {
		r := dpopRequest(t, http.MethodGet, target, tok, tc.proof)
		if www := r.Header.Get("WWW-Authenticate"); r.StatusCode != 401 || !strings.Contains(www, `error="`+tc.want+`"`) {
			t.Errorf("%s: %d %q, want 401 %s", name, r.StatusCode, www, tc.want)
		}
	}
	if code, _ := get(t, target, tok); code != 401 {
		t.Errorf("the DPoP-bound token as a bearer token: %d, want 401", code)
	}
	// Without a proof, the token endpoint issues bearer tokens as before.
	status, resp = dpopToken(t, d, nil, patientToken)
	if _, bound := claims(t, resp["access_token"].(string))["cnf"]; status != 200 || resp["token_type"] != "Bearer" || bound {
		t.Fatalf("token without a proof: %d %v", status, resp)
	}
	if code, body := get(t, target, resp["access_token"].(string)); code != 200 {
		t.Errorf("bearer read: %d %s", code, body)
	}
}

// TestDPoPDiscovery: the SMART document and the OpenID metadata of the
// embedded server list the proof algorithms of its token endpoint, the
// protected-resource metadata those of the FHIR API; with -dpop off none
// does, and the token endpoint refuses proofs.
func TestDPoPDiscovery(t *testing.T) {
	algs := func(t *testing.T, target string) []string {
		t.Helper()
		var m struct {
			Algs []string `json:"dpop_signing_alg_values_supported"`
		}
		p := fetch(t, http.MethodGet, target, nil)
		if err := json.Unmarshal([]byte(p.body), &m); p.status != 200 || err != nil {
			t.Fatalf("%s: %d %v", target, p.status, err)
		}
		return m.Algs
	}
	for _, mode := range []smartmw.DPoPMode{smartmw.DPoPAllowed, smartmw.DPoPOff} {
		d := startDemoWith(t, options{dpop: dpopFlags{mode: mode, set: true}})
		want := []string{"ES256"}
		if mode == smartmw.DPoPOff {
			want = nil
		}
		for _, target := range []string{d.audience + "/.well-known/smart-configuration", d.issuer + "/.well-known/openid-configuration",
			d.root + "/.well-known/oauth-protected-resource/fhir"} {
			if got := algs(t, target); !slices.Equal(got, want) {
				t.Errorf("mode %d, %s: dpop_signing_alg_values_supported %q, want %q", mode, target, got, want)
			}
		}
		status, resp := dpopToken(t, d, smarttest.NewDPoPKey(t, "ES256"), patientToken)
		if mode == smartmw.DPoPOff && (status != 400 || resp["error"] != "invalid_dpop_proof") {
			t.Errorf("-dpop off, token request with a proof: %d %v, want invalid_dpop_proof", status, resp)
		}
	}
}

// TestDPoPNonces: with -dpop-nonce-key a proof without the server's
// nonce is answered use_dpop_nonce with one, and a proof with it passes.
func TestDPoPNonces(t *testing.T) {
	d := startDemoWith(t, options{dpop: dpopFlags{nonceKey: strings.Repeat("n", 32)}})
	key := smarttest.NewDPoPKey(t, "ES256")
	_, resp := dpopToken(t, d, key, patientToken)
	tok := resp["access_token"].(string)
	target := d.audience + "/Patient/example"
	r := dpopRequest(t, http.MethodGet, target, tok, key.Proof(t, http.MethodGet, target, tok))
	nonce := r.Header.Get("DPoP-Nonce")
	if r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) || nonce == "" {
		t.Fatalf("proof without a nonce: %d %q nonce %q", r.StatusCode, r.Header.Get("WWW-Authenticate"), nonce)
	}
	if r := dpopRequest(t, http.MethodGet, target, tok, key.Proof(t, http.MethodGet, target, tok, smarttest.ProofNonce(nonce))); r.StatusCode != 200 {
		t.Errorf("proof with the nonce: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	if r := dpopRequest(t, http.MethodGet, target, tok, key.Proof(t, http.MethodGet, target, tok, smarttest.ProofNonce("made-up"))); r.StatusCode != 401 {
		t.Errorf("proof with a made-up nonce: %d", r.StatusCode)
	}
}
