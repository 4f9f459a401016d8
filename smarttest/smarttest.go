package smarttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/testissuer"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// DefaultAudience is the FHIR base URL tokens are issued for unless
// ForAudience says otherwise.
const DefaultAudience = "https://fhir.example.org/r4"

// Issuer is a SMART authorization server on httptest: generated keys, an
// OpenID discovery document, a JWKS and a SMART discovery document, and
// tokens minted on demand. It stops when the test ends.
type Issuer struct {
	iss      *testissuer.Issuer
	srv      *httptest.Server
	audience string
	clock    func() time.Time // nil: time.Now
}

// An IssuerOption changes how NewIssuer builds the Issuer. (Options that
// shape one token are TokenOptions.)
type IssuerOption func(*issuerOptions)

type issuerOptions struct {
	alg, audience string
	clock         func() time.Time
}

// SigningAlgorithm sets the Issuer's signing algorithm: "RS256" (the
// default), "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"
// or "EdDSA", the algorithms a Guard accepts by default.
func SigningAlgorithm(alg string) IssuerOption { return func(o *issuerOptions) { o.alg = alg } }

// ForAudience sets the FHIR base URL the Issuer's tokens are for (their
// "aud" unless AudienceClaim says otherwise) and that Config expects.
// Default DefaultAudience.
func ForAudience(base string) IssuerOption { return func(o *issuerOptions) { o.audience = base } }

// Clock sets the clock the Issuer mints tokens by ("iat", and "exp"
// from Lifetime and Expired) and that Config gives the Guard
// (Tokens.Now), so that a test of expiry or of a token's age needs no
// sleeping and gives the same answer on any day. Default time.Now.
// DPoP proofs are not the Issuer's: give them ProofIssuedAt.
func Clock(now func() time.Time) IssuerOption { return func(o *issuerOptions) { o.clock = now } }

// NewIssuer starts an Issuer for the test t. It serves, under URL():
// /.well-known/openid-configuration, /jwks.json and
// /.well-known/smart-configuration.
func NewIssuer(t testing.TB, opts ...IssuerOption) *Issuer {
	t.Helper()
	o := issuerOptions{alg: "RS256", audience: DefaultAudience}
	for _, opt := range opts {
		opt(&o)
	}
	iss, err := testissuer.New(o.alg)
	if err != nil {
		t.Fatalf("smarttest: %v", err)
	}
	is := &Issuer{iss: iss, audience: o.audience, clock: o.clock}
	mux := http.NewServeMux()
	mux.Handle("/", iss.Handler("/token"))
	mux.HandleFunc("GET /.well-known/smart-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := iss.URL()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": u, "jwks_uri": u + "/jwks.json",
			"authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"grant_types_supported":            []string{"authorization_code", "client_credentials"},
			"code_challenge_methods_supported": []string{"S256"},
			"capabilities": []string{"launch-standalone", "client-public", "context-standalone-patient",
				"permission-patient", "permission-user", "permission-v1", "permission-v2", "sso-openid-connect"},
		})
	})
	is.srv = httptest.NewServer(mux)
	iss.SetURL(is.srv.URL)
	t.Cleanup(is.srv.Close)
	return is
}

// URL returns the issuer identifier, the "iss" of its tokens.
func (is *Issuer) URL() string { return is.iss.URL() }

// Audience returns the FHIR base URL the Issuer's tokens are for.
func (is *Issuer) Audience() string { return is.audience }

// KeyID returns the kid of the Issuer's current signing key, for a
// header written by hand (SignRaw).
func (is *Issuer) KeyID() string { return is.iss.KeyID() }

// SignRaw signs header and payload exactly as given, with the Issuer's
// key and algorithm, for tokens that no TokenOption describes: a payload
// that names a claim twice, is not UTF-8 or not a JSON object, or a
// header written by hand (its "alg" should be the Issuer's, its "kid"
// KeyID()). The token is base64url(header) "." base64url(payload) "."
// signature.
func (is *Issuer) SignRaw(t testing.TB, header, payload string) string {
	t.Helper()
	tok, err := is.iss.SignRaw([]byte(header), []byte(payload))
	if err != nil {
		t.Fatalf("smarttest: %v", err)
	}
	return tok
}

// Client returns an HTTP client for the Issuer's server.
func (is *Issuer) Client() *http.Client { return is.srv.Client() }

// Config returns a Config for smartmw.New that trusts this Issuer for its
// audience, with its JWKS and an unknown-kid refresh interval short
// enough for RotateKey to take effect at once. Set the other fields
// (NotFoundForDenied, Policy, ...) as your server does.
func (is *Issuer) Config() smartmw.Config {
	return smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      is.URL(),
			Audience: is.audience,
			JWKSURL:  is.URL() + "/jwks.json",
		},
		HTTPClient: is.srv.Client(),
		Keys:       smartmw.KeyOptions{UnknownKIDInterval: time.Millisecond},
		Tokens:     smartmw.TokenOptions{Now: is.clock},
	}
}

// now is the Issuer's clock.
func (is *Issuer) now() time.Time {
	if is.clock != nil {
		return is.clock()
	}
	return time.Now()
}

// RotateKey replaces the signing key: tokens minted afterwards carry a
// new kid, and the old key is no longer published.
func (is *Issuer) RotateKey(t testing.TB) {
	t.Helper()
	if err := is.iss.Rotate(); err != nil {
		t.Fatalf("smarttest: %v", err)
	}
}

// A TokenOption shapes a token minted by Issuer.Token.
type TokenOption func(*tokenSpec)

type tokenSpec struct {
	now      time.Time
	claims   jwt.MapClaims
	header   map[string]any
	breakSig bool
	foreign  bool
}

func claim(name string, v any) TokenOption {
	return func(s *tokenSpec) { s.claims[name] = v }
}

// Scopes sets the "scope" claim, a space-separated list.
func Scopes(s string) TokenOption { return claim("scope", s) }

// Patient sets the patient in launch context.
func Patient(id string) TokenOption { return claim("patient", id) }

// Encounter sets the encounter in launch context.
func Encounter(id string) TokenOption { return claim("encounter", id) }

// FHIRUser sets the fhirUser claim, such as "Practitioner/123".
func FHIRUser(ref string) TokenOption { return claim("fhirUser", ref) }

// FHIRContext sets the fhirContext launch items.
func FHIRContext(items ...smartctx.FHIRContextItem) TokenOption { return claim("fhirContext", items) }

// Tenant sets the tenant launch parameter.
func Tenant(id string) TokenOption { return claim("tenant", id) }

// Subject sets "sub". Default "smarttest-user".
func Subject(sub string) TokenOption { return claim("sub", sub) }

// ClientID sets "client_id". Default "smarttest-app".
func ClientID(id string) TokenOption { return claim("client_id", id) }

// AudienceClaim sets the token's "aud" (a string, or a []string for
// several), in place of the Issuer's audience.
func AudienceClaim(aud any) TokenOption { return claim("aud", aud) }

// Lifetime sets "exp" to now plus d. Default 1 hour.
func Lifetime(d time.Duration) TokenOption {
	return func(s *tokenSpec) { s.claims["exp"] = s.now.Add(d).Unix() }
}

// Claim sets any claim; a nil value removes it.
func Claim(name string, v any) TokenOption {
	return func(s *tokenSpec) {
		if v == nil {
			delete(s.claims, name)
			return
		}
		s.claims[name] = v
	}
}

// Header sets a JOSE header field ("typ", "kid", ...); a nil value
// removes it.
func Header(name string, v any) TokenOption {
	return func(s *tokenSpec) { s.header[name] = v }
}

// Expired makes a token that expired an hour ago.
func Expired() TokenOption {
	return func(s *tokenSpec) {
		s.claims["iat"] = s.now.Add(-2 * time.Hour).Unix()
		s.claims["exp"] = s.now.Add(-time.Hour).Unix()
	}
}

// WrongAudience makes a token for another FHIR server.
func WrongAudience() TokenOption { return claim("aud", "https://other.example.org/fhir") }

// WrongIssuer makes a token that names another issuer.
func WrongIssuer() TokenOption { return claim("iss", "https://other-issuer.example.org") }

// UnknownKey signs the token with a key the Issuer never published.
func UnknownKey() TokenOption { return func(s *tokenSpec) { s.foreign = true } }

// BadSignature makes a token whose signature does not verify.
func BadSignature() TokenOption { return func(s *tokenSpec) { s.breakSig = true } }

// Token mints an access token. Without options it carries iss, aud, sub,
// client_id, iat, jti and an exp an hour away, and no scope.
func (is *Issuer) Token(t testing.TB, opts ...TokenOption) string {
	t.Helper()
	now := is.now()
	s := tokenSpec{
		now: now,
		claims: jwt.MapClaims{
			"iss": is.URL(), "aud": is.audience, "sub": "smarttest-user", "client_id": "smarttest-app",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text(),
		},
		header: map[string]any{},
	}
	for _, opt := range opts {
		opt(&s)
	}
	var tok string
	var err error
	if s.foreign {
		key, kerr := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if kerr != nil {
			t.Fatalf("smarttest: %v", kerr)
		}
		tok, err = testissuer.SignWith(jwt.SigningMethodES256, key, "unknown-key", s.claims, s.header)
	} else {
		tok, err = is.iss.Sign(s.claims, s.header)
	}
	if err != nil {
		t.Fatalf("smarttest: %v", err)
	}
	if s.breakSig {
		// Change the payload after signing: same header, same signature.
		parts := strings.Split(tok, ".")
		s.claims["smarttest_tampered"] = true
		forged, _ := json.Marshal(s.claims)
		parts[1] = jwtEncode(forged)
		tok = strings.Join(parts, ".")
	}
	return tok
}

func jwtEncode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Grant builds a grant directly, with no token, for testing handlers in
// isolation. The scope string is parsed as a token's would be.
func Grant(scopes string, c smartctx.Claims) *smartctx.Grant {
	c.Scopes = scope.Parse(scopes)
	return smartctx.NewGrant(c)
}

// WithGrant returns r carrying a grant of the given scopes and launch
// context on its context, as the middleware would put it there.
func WithGrant(r *http.Request, scopes string, c smartctx.Claims) *http.Request {
	return r.WithContext(smartctx.NewContext(r.Context(), Grant(scopes, c)))
}
