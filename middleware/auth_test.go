package middleware_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/scope"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

func TestAcceptsValidToken(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	c := goodClaims(is)
	c["encounter"] = "enc-1"
	c["fhirUser"] = "Practitioner/p1"
	c["tenant"] = "t1"
	c["intent"] = "reconcile-medications"
	c["need_patient_banner"] = true
	c["smart_style_url"] = "https://ehr.example.org/style.json"
	c["fhirContext"] = []any{map[string]any{"reference": "Appointment/a1"}, map[string]any{"canonical": "http://x.org/Q|1", "role": "https://x.org/role"}}
	rec, g := authenticateOnly(m, bearerRequest(sign(t, is, c)))
	if rec.Code != http.StatusNoContent || g == nil {
		t.Fatalf("status %d, grant %v; body %s", rec.Code, g, rec.Body)
	}
	checks := []struct{ name, got, want string }{
		{"issuer", g.Issuer(), is.URL()},
		{"subject", g.Subject(), "user-1"},
		{"client", g.ClientID(), "app-1"},
		{"patient", g.Patient(), "123"},
		{"encounter", g.Encounter(), "enc-1"},
		{"fhirUser", g.FHIRUser(), "Practitioner/p1"},
		{"tenant", g.Tenant(), "t1"},
		{"intent", g.Intent(), "reconcile-medications"},
		{"style", g.SmartStyleURL(), "https://ehr.example.org/style.json"},
		{"scopes", g.Scopes().String(), "launch/patient patient/Observation.rs openid fhirUser"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !g.NeedPatientBanner() || !g.ExpiresAt().Equal(testNow.Add(time.Hour)) {
		t.Errorf("banner %v, expiry %v", g.NeedPatientBanner(), g.ExpiresAt())
	}
	if fc := g.FHIRContext(); len(fc) != 2 || fc[0].Reference != "Appointment/a1" || fc[1].Role != "https://x.org/role" {
		t.Errorf("fhirContext = %+v", fc)
	}
	if v, ok := g.Claim("jti"); !ok || v != "j1" {
		t.Errorf("raw claim jti = %v", v)
	}
	if !g.Allows(scope.Patient, "Observation", scope.Read) {
		t.Error("patient/Observation.rs does not allow read")
	}
}

func TestAcceptsEveryDefaultAlgorithm(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			is := newIssuer(t, smarttest.SigningAlgorithm(alg))
			m := newGuard(t, is, nil)
			if _, err := m.Verify(context.Background(), sign(t, is, goodClaims(is))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRejectsAlgNone(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	tok := forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, goodClaims(is), map[string]any{"kid": is.KeyID()})
	wantInvalid(t, m, tok, jwt.ErrTokenSignatureInvalid)
	// Even a Keyfunc that hands out the magic "none" key cannot make it pass.
	m = newGuard(t, is, func(c *smartmw.Config) {
		c.Issuer.JWKSURL, c.Issuer.Keyfunc = "", func(*jwt.Token) (any, error) { return jwt.UnsafeAllowNoneSignatureType, nil }
	})
	wantInvalid(t, m, tok)
	if _, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:      is.URL(),
		Audience: testAudience,
		Keyfunc:  noKeys,
	}, Tokens: smartmw.TokenOptions{Algorithms: []string{"none"}}}); err == nil {
		t.Error(`New accepted Algorithms {"none"}`)
	}
}

// TestRejectsHS256SignedWithRSAPublicKey is the RS256 → HS256 key
// confusion attack: the public key, which anyone has, used as an HMAC
// secret.
func TestRejectsHS256SignedWithRSAPublicKey(t *testing.T) {
	is := newIssuer(t)
	der, err := x509.MarshalPKIXPublicKey(issuerRSAKey(t, is))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"PEM": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"DER": der,
	}
	for name, secret := range secrets {
		tok := forge(t, jwt.SigningMethodHS256, secret, goodClaims(is), map[string]any{"kid": is.KeyID()})
		t.Run(name+"/default algorithms", func(t *testing.T) {
			wantInvalid(t, newGuard(t, is, nil), tok)
		})
		t.Run(name+"/HS256 allowed, keys from JWKS", func(t *testing.T) {
			// Refused at once: no JWKS key can be an HMAC secret.
			_, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
				URL:      is.URL(),
				Audience: testAudience,
			}, HTTPClient: is.Client(), Tokens: smartmw.TokenOptions{Algorithms: []string{"RS256", "HS256"}}})
			if err == nil || !strings.Contains(err.Error(), "HS256") {
				t.Fatalf("New = %v, want an error naming HS256", err)
			}
		})
	}
}

func TestRejectsAlgorithmNotAllowed(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) { c.Tokens.Algorithms = []string{"ES256"} })
	wantInvalid(t, m, sign(t, is, goodClaims(is)), jwt.ErrTokenSignatureInvalid)
}

func TestRejectsUnknownCrit(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	tok := sign(t, is, goodClaims(is), smarttest.Header("crit", []any{"exp"}), smarttest.Header("exp", 1))
	wantInvalid(t, m, tok, smartmw.ErrCrit)
}

func TestRejectsNestedJWT(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	wantInvalid(t, m, sign(t, is, goodClaims(is), smarttest.Header("cty", "JWT")), smartmw.ErrCty)
}

func TestRejectsJWE(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	jwe := b64([]byte(`{"alg":"RSA-OAEP","enc":"A256GCM","typ":"at+jwt"}`)) + ".a2V5.aXY.Y2lwaGVy.dGFn"
	wantInvalid(t, m, jwe, jwt.ErrTokenMalformed)
}

func TestRejectsOversizedToken(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) { c.Bounds.MaxTokenSize = 2048 })
	c := goodClaims(is)
	c["pad"] = strings.Repeat("x", 2048)
	wantInvalid(t, m, sign(t, is, c))
	rec, _ := authenticateOnly(m, bearerRequest(sign(t, is, c)))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", rec.Code)
	}
}

// TestRejectsEmbeddedJWK: a token signed by the key it carries in its own
// header (and pointing to more keys with jku and x5u) is not verified
// with any of them.
func TestRejectsEmbeddedJWK(t *testing.T) {
	is := newIssuer(t)
	var fetched atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer evil.Close()
	m := newGuard(t, is, nil)
	attacker := otherRSAKey()
	cert := []string{b64([]byte("not a certificate"))}
	tok := forge(t, jwt.SigningMethodRS256, attacker, goodClaims(is), map[string]any{
		"kid": is.KeyID(), "jwk": jwk(attacker, is.KeyID(), nil), "jku": evil.URL, "x5u": evil.URL, "x5c": cert,
	})
	wantInvalid(t, m, tok, jwt.ErrTokenSignatureInvalid)
	if n := fetched.Load(); n != 0 {
		t.Errorf("jku/x5u fetched %d times", n)
	}
	// Without a kid, every key of the issuer is tried, still not the embedded one.
	tok = forge(t, jwt.SigningMethodRS256, attacker, goodClaims(is), map[string]any{"kid": nil, "jwk": jwk(attacker, "", nil)})
	wantInvalid(t, m, tok, jwt.ErrTokenSignatureInvalid)
}

func TestRejectsWrongIssuer(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	for _, iss := range []string{"https://evil.example.org/realms/fhir", is.URL() + "/", strings.Replace(is.URL(), "http://", "HTTP://", 1)} {
		c := goodClaims(is)
		c["iss"] = iss
		wantInvalid(t, m, sign(t, is, c), jwt.ErrTokenInvalidIssuer)
	}
	c := goodClaims(is)
	c["iss"] = ""
	wantInvalid(t, m, sign(t, is, c), jwt.ErrTokenRequiredClaimMissing)
	delete(c, "iss")
	wantInvalid(t, m, sign(t, is, c), jwt.ErrTokenRequiredClaimMissing)
	c["iss"] = 42
	wantInvalid(t, m, sign(t, is, c), jwt.ErrTokenInvalidIssuer)
}

func TestAudience(t *testing.T) {
	is := newIssuer(t)
	tests := []struct {
		name    string
		aud     any
		ok      bool
		missing bool
	}{
		{name: "string", aud: testAudience, ok: true},
		{name: "array", aud: []any{"https://other.example.org", testAudience}, ok: true},
		{name: "second configured audience", aud: "https://fhir.example.org/tenant-b", ok: true},
		{name: "other", aud: "https://other.example.org/r4"},
		{name: "trailing slash", aud: testAudience + "/"},
		{name: "empty array", aud: []any{}, missing: true},
		{name: "absent", missing: true},
	}
	m := newGuard(t, is, func(c *smartmw.Config) { c.Issuer.Audiences = []string{"https://fhir.example.org/tenant-b"} })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := goodClaims(is)
			if tc.aud == nil {
				delete(c, "aud")
			} else {
				c["aud"] = tc.aud
			}
			tok := sign(t, is, c)
			if tc.ok {
				if _, err := m.Verify(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
				return
			}
			if tc.missing {
				wantInvalid(t, m, tok, jwt.ErrTokenRequiredClaimMissing)
				return
			}
			wantInvalid(t, m, tok, jwt.ErrTokenInvalidAudience)
		})
	}
}

func TestRejectsMissingExp(t *testing.T) {
	is := newIssuer(t)
	c := goodClaims(is)
	delete(c, "exp")
	wantInvalid(t, newGuard(t, is, nil), sign(t, is, c), jwt.ErrTokenRequiredClaimMissing)
}

func TestRejectsExpiredToken(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	c := goodClaims(is)
	c["exp"] = testNow.Add(-31 * time.Second).Unix()
	tok := sign(t, is, c)
	wantInvalid(t, m, tok, jwt.ErrTokenExpired)
	rec, _ := authenticateOnly(m, bearerRequest(tok))
	if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="fhir", error="invalid_token", error_description="token expired"` {
		t.Errorf("WWW-Authenticate = %s", got)
	}
	// Within the 30 s leeway it is still good.
	c["exp"] = testNow.Add(-29 * time.Second).Unix()
	if _, err := m.Verify(context.Background(), sign(t, is, c)); err != nil {
		t.Errorf("token expired 29 s ago refused: %v", err)
	}
}

func TestRejectsTokenNotYetValid(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	c := goodClaims(is)
	c["nbf"] = testNow.Add(time.Minute).Unix()
	wantInvalid(t, m, sign(t, is, c), jwt.ErrTokenNotValidYet)
	c = goodClaims(is)
	c["iat"] = testNow.Add(time.Minute).Unix()
	wantInvalid(t, m, sign(t, is, c), jwt.ErrTokenUsedBeforeIssued)
	c["iat"] = testNow.Add(20 * time.Second).Unix() // within leeway
	if _, err := m.Verify(context.Background(), sign(t, is, c)); err != nil {
		t.Errorf("iat 20 s ahead refused: %v", err)
	}
}

func TestTyp(t *testing.T) {
	is := newIssuer(t)
	tests := []struct {
		typ         any // nil: absent
		lax, strict bool
	}{
		{"at+jwt", true, true},
		{"at+JWT", true, true},
		{"application/at+jwt", true, true},
		{"Application/AT+JWT", true, true},
		{"JWT", true, false},
		{"jwt", true, false},
		{nil, true, false},
		{"id_token+jwt", false, false},
		{"dpop+jwt", false, false},
		{"logout+jwt", false, false},
		{"", false, false},
		{42, false, false},
	}
	lax, strict := newGuard(t, is, nil), newGuard(t, is, func(c *smartmw.Config) { c.Tokens.RequireATJWT = true })
	for _, tc := range tests {
		tok := sign(t, is, goodClaims(is), smarttest.Header("typ", tc.typ))
		for _, mode := range []struct {
			m    *smartmw.Guard
			want bool
			name string
		}{{lax, tc.lax, "default"}, {strict, tc.strict, "RequireATJWT"}} {
			_, err := mode.m.Verify(context.Background(), tok)
			if (err == nil) != mode.want {
				t.Errorf("typ %v, %s: err = %v, want accepted %v", tc.typ, mode.name, err, mode.want)
			}
		}
	}
}

func TestRejectsBadKID(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	for _, kid := range []any{strings.Repeat("k", 300), "k1\r\nX-Injected: 1", "../../etc/passwd\x00", "", 7} {
		tok := sign(t, is, goodClaims(is), smarttest.Header("kid", kid))
		wantInvalid(t, m, tok, smartmw.ErrKID)
	}
}

func TestRejectsCnfBoundToken(t *testing.T) {
	is := newIssuer(t)
	c := goodClaims(is)
	c["cnf"] = map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
	wantInvalid(t, newGuard(t, is, nil), sign(t, is, c), smartmw.ErrClaim)
}

// TestRejectsNonUTF8Claims: claims that are not UTF-8 (RFC 8725 §3.7)
// are refused wherever the bad bytes sit: a value, a name, a nested
// claim, an escaped lone surrogate, or a value that a repeated name
// replaces, which the decoded claims alone would no longer show.
func TestRejectsNonUTF8Claims(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	hdr := `{"alg":"RS256","typ":"at+jwt","kid":"` + is.KeyID() + `"}`
	head := `{"iss":"` + is.URL() + `","aud":"` + testAudience + `","exp":9999999999,`
	for name, rest := range map[string]string{
		"a value":                     "\"sub\":\"\xff\"}",
		"a name":                      "\"s\xc3b\":\"x\"}",
		"a nested claim":              "\"ext\":{\"a\":[\"ok\",\"caf\xc3\"]}}",
		"a lone surrogate escaped":    `"sub":"\ud800"}`,
		"U+FFFD escaped":              `"sub":"\ufffd"}`,
		"U+FFFD as it is":             "\"sub\":\"\xef\xbf\xbd\"}",
		"a value a repeated name hid": "\"sub\":\"\xff\",\"sub\":\"u1\"}",
	} {
		t.Run(name, func(t *testing.T) {
			wantInvalid(t, m, is.SignRaw(t, hdr, head+rest), smartmw.ErrClaim)
		})
	}
}

// TestDuplicateClaimsLastWins pins the documented behaviour: a claim named
// twice takes its last value, in every check alike.
func TestDuplicateClaimsLastWins(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	hdr := `{"alg":"RS256","typ":"at+jwt","kid":"` + is.KeyID() + `"}`
	payload := `{"iss":"` + is.URL() + `","aud":"` + testAudience + `","exp":9999999999,"patient":"evil","patient":"123"}`
	g, err := m.Verify(context.Background(), is.SignRaw(t, hdr, payload))
	if err != nil || g.Patient() != "123" {
		t.Fatalf("patient %q, err %v; want the last value", g.Patient(), err)
	}
}

func TestRejectsInvalidLaunchContext(t *testing.T) {
	is := newIssuer(t)
	tests := []struct {
		name  string
		claim string
		value any
	}{
		{"patient a reference to another type", "patient", "Practitioner/123"},
		{"patient with space", "patient", "12 3"},
		{"patient too long", "patient", strings.Repeat("1", 65)},
		{"patient empty", "patient", ""},
		{"patient number", "patient", 123},
		{"encounter not an id", "encounter", "enc/1"},
		{"encounter number", "encounter", 9},
		{"fhirUser type", "fhirUser", "Observation/1"},
		{"fhirUser no id", "fhirUser", "Practitioner/"},
		{"fhirUser empty", "fhirUser", ""},
		{"fhirContext not array", "fhirContext", map[string]any{"reference": "Appointment/1"}},
		{"fhirContext item empty", "fhirContext", []any{map[string]any{"type": "Appointment"}}},
		{"fhirContext empty role", "fhirContext", []any{map[string]any{"reference": "Appointment/1", "role": ""}}},
		{"fhirContext identifier string", "fhirContext", []any{map[string]any{"identifier": "x"}}},
		{"scope number", "scope", 5},
		{"scp holds number", "scope", []any{"patient/*.rs", 5}},
		{"banner string", "need_patient_banner", "true"},
		{"client_id number", "client_id", 5},
	}
	m := newGuard(t, is, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := goodClaims(is)
			c[tc.claim] = tc.value
			wantInvalid(t, m, sign(t, is, c), smartmw.ErrClaim)
		})
	}
}

func TestAcceptsLaunchContextForms(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	c := goodClaims(is)
	delete(c, "scope")
	c["scp"] = []any{"patient/Observation.rs", "launch/patient"}
	c["fhirUser"] = "https://ehr.example.org/fhir/Patient/123"
	c["fhirContext"] = []any{map[string]any{"identifier": map[string]any{"system": "urn:x", "value": "1"}, "type": "Appointment"}}
	g, err := m.Verify(context.Background(), sign(t, is, c))
	if err != nil {
		t.Fatal(err)
	}
	if !g.Allows(scope.Patient, "Observation", scope.Search) || g.FHIRUser() != "https://ehr.example.org/fhir/Patient/123" {
		t.Errorf("scp or fhirUser not read: %v %q", g.Scopes(), g.FHIRUser())
	}
	if fc := g.FHIRContext(); len(fc) != 1 || string(fc[0].Identifier) != `{"system":"urn:x","value":"1"}` {
		t.Errorf("fhirContext = %+v", fc)
	}
}

func TestClaimNameAliases(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) {
		c.Issuer.Claims = smartmw.ClaimNames{Patient: []string{"patient", "launch_response_patient"}, ClientID: []string{"azp"}}
	})
	c := goodClaims(is)
	delete(c, "patient")
	c["launch_response_patient"] = "p-9"
	c["azp"] = "app-2"
	g, err := m.Verify(context.Background(), sign(t, is, c))
	if err != nil || g.Patient() != "p-9" || g.ClientID() != "app-2" {
		t.Fatalf("patient %q, client %q, err %v", g.Patient(), g.ClientID(), err)
	}
}

func TestPatientScopeWithoutPatientGrantsNothing(t *testing.T) {
	is := newIssuer(t)
	c := goodClaims(is)
	delete(c, "patient")
	c["scope"] = "patient/*.cruds"
	_, g := authenticateOnly(newGuard(t, is, nil), bearerRequest(sign(t, is, c)))
	if g == nil {
		t.Fatal("token refused")
	}
	if g.Access(scope.Patient, "Observation", scope.Read) != scope.Denied {
		t.Error("patient/*.cruds without a patient grants access")
	}
}

func TestVerifyErrorMatchesSentinelAndCause(t *testing.T) {
	is := newIssuer(t)
	c := goodClaims(is)
	c["exp"] = testNow.Add(-time.Hour).Unix()
	_, err := newGuard(t, is, nil).Verify(context.Background(), sign(t, is, c))
	if !errors.Is(err, smartmw.ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	is := newIssuer(t)
	ok := smartmw.Config{Issuer: smartmw.Issuer{
		URL:      is.URL(),
		Audience: testAudience,
		Keyfunc:  noKeys,
	}}
	tests := []struct {
		name   string
		adjust func(*smartmw.Config)
	}{
		{"no issuer", func(c *smartmw.Config) { c.Issuer.URL = "" }},
		{"no audience", func(c *smartmw.Config) { c.Issuer.Audience = "" }},
		{"http issuer", func(c *smartmw.Config) { c.Issuer.URL = "http://auth.example.org" }},
		{"http JWKS", func(c *smartmw.Config) { c.Issuer.JWKSURL = "http://auth.example.org/jwks" }},
		{"relative audience", func(c *smartmw.Config) { c.Issuer.Audience = "/r4" }},
		{"unknown algorithm", func(c *smartmw.Config) { c.Tokens.Algorithms = []string{"RS257"} }},
		{"huge leeway", func(c *smartmw.Config) { c.Tokens.Leeway = time.Hour }},
		{"issuer twice", func(c *smartmw.Config) { c.Issuers = []smartmw.Issuer{{URL: is.URL(), Audience: testAudience}} }},
		{"issuer entry without audience", func(c *smartmw.Config) { c.Issuers = []smartmw.Issuer{{URL: "https://b.example.org"}} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.adjust(&cfg)
			if _, err := smartmw.New(context.Background(), cfg); err == nil {
				t.Error("New accepted the Config")
			}
		})
	}
	for _, u := range []string{"http://127.0.0.1:8080/realms/x", "http://[::1]:9/x", "http://localhost/x"} {
		cfg := ok
		cfg.Issuer.URL = u
		if _, err := smartmw.New(context.Background(), cfg); err != nil {
			t.Errorf("loopback issuer %s refused: %v", u, err)
		}
	}
}

func TestRequireATJWTRequiresRFC9068Claims(t *testing.T) {
	is := newIssuer(t)
	lax, strict := newGuard(t, is, nil), newGuard(t, is, func(c *smartmw.Config) { c.Tokens.RequireATJWT = true })
	for _, missing := range []string{"sub", "client_id", "iat", "jti"} {
		t.Run("without "+missing, func(t *testing.T) {
			c := goodClaims(is)
			delete(c, missing)
			tok := sign(t, is, c, smarttest.Header("typ", "at+jwt"))
			if _, err := lax.Verify(context.Background(), tok); err != nil {
				t.Errorf("default mode refused a token without %s: %v", missing, err)
			}
			wantInvalid(t, strict, tok, smartmw.ErrClaim)
		})
	}
	tok := sign(t, is, goodClaims(is), smarttest.Header("typ", "at+jwt"))
	if _, err := strict.Verify(context.Background(), tok); err != nil {
		t.Errorf("strict mode refused a complete RFC 9068 token: %v", err)
	}
}
