package smarttest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/smarttest"
	"github.com/smartguard/smartguard/wellknown"
)

func TestTokensVerifyAgainstTheMiddleware(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			is := smarttest.NewIssuer(t, smarttest.SigningAlgorithm(alg))
			auth, err := smartmw.New(t.Context(), is.Config())
			if err != nil {
				t.Fatal(err)
			}
			tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"),
				smarttest.Encounter("e1"), smarttest.FHIRUser("Practitioner/9"), smarttest.Tenant("t1"),
				smarttest.FHIRContext(smartctx.FHIRContextItem{Reference: "Appointment/7"}))
			g, err := auth.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if g.Patient() != "123" || g.Encounter() != "e1" || g.FHIRUser() != "Practitioner/9" || g.Tenant() != "t1" ||
				len(g.FHIRContext()) != 1 || !g.Allows(scope.Patient, "Observation", scope.Read) {
				t.Errorf("grant lost launch context: %+v", g)
			}
		})
	}
}

func TestBrokenTokensAreRejectedForTheirReason(t *testing.T) {
	is := smarttest.NewIssuer(t)
	auth, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		opt   smarttest.TokenOption
		cause error
	}{
		{name: "expired", opt: smarttest.Expired(), cause: jwt.ErrTokenExpired},
		{name: "wrong audience", opt: smarttest.WrongAudience(), cause: jwt.ErrTokenInvalidAudience},
		{name: "wrong issuer", opt: smarttest.WrongIssuer()},
		{name: "unknown key", opt: smarttest.UnknownKey()},
		{name: "bad signature", opt: smarttest.BadSignature(), cause: jwt.ErrTokenSignatureInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.Verify(t.Context(), is.Token(t, smarttest.Scopes("system/*.rs"), tc.opt))
			if !errors.Is(err, smartmw.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("err = %v, want cause %v", err, tc.cause)
			}
		})
	}
}

func TestRotateKeyPublishesTheNewKeyOnly(t *testing.T) {
	is := smarttest.NewIssuer(t)
	cfg := is.Config()
	cfg.Cache.Disable = true
	auth, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	old := is.Token(t)
	if _, err := auth.Verify(t.Context(), old); err != nil {
		t.Fatalf("token before rotation: %v", err)
	}
	is.RotateKey(t)
	if _, err := auth.Verify(t.Context(), is.Token(t)); err != nil {
		t.Errorf("token of the new key refused: %v", err)
	}
	if _, err := auth.Verify(t.Context(), old); !errors.Is(err, smartmw.ErrInvalidToken) {
		t.Errorf("token of the unpublished key: err = %v, want ErrInvalidToken", err)
	}
}

func TestIssuerServesDiscoveryDocuments(t *testing.T) {
	is := smarttest.NewIssuer(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/jwks.json", "/.well-known/smart-configuration"} {
		resp, err := is.Client().Get(is.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func TestWithGrantPutsTheGrantOnTheRequest(t *testing.T) {
	r := smarttest.WithGrant(httptest.NewRequest(http.MethodGet, "/", nil), "patient/*.rs", smartctx.Claims{Patient: "123"})
	g, ok := smartctx.FromContext(r.Context())
	if !ok || g.Patient() != "123" || !g.Allows(scope.Patient, "Condition", scope.Search) {
		t.Errorf("grant = %+v, %v", g, ok)
	}
}

func TestTokenOptionsReachTheGrant(t *testing.T) {
	is := smarttest.NewIssuer(t)
	auth, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	tok := is.Token(t, smarttest.Scopes("system/Patient.rs"), smarttest.Subject("svc"), smarttest.ClientID("backend"),
		smarttest.Claim("site", "north"), smarttest.Lifetime(10*time.Minute), smarttest.Header("typ", "at+jwt"))
	g, err := auth.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if g.Subject() != "svc" || g.ClientID() != "backend" {
		t.Errorf("sub, client_id = %q, %q", g.Subject(), g.ClientID())
	}
	if v, ok := g.Claim("site"); !ok || v != "north" {
		t.Errorf("extra claim = %v, %v", v, ok)
	}
	if exp := time.Until(g.ExpiresAt()); exp > 10*time.Minute || exp < 8*time.Minute {
		t.Errorf("expires in %v, want about 10m", exp)
	}
}

func TestHeaderAndClaimChangesBreakTokens(t *testing.T) {
	is := smarttest.NewIssuer(t)
	auth, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  smarttest.TokenOption
	}{
		{name: "id token typ", opt: smarttest.Header("typ", "id_token+jwt")},
		{name: "DPoP proof typ", opt: smarttest.Header("typ", "dpop+jwt")},
		{name: "kid of no published key", opt: smarttest.Header("kid", "nobody")},
		{name: "no exp", opt: smarttest.Claim("exp", nil)},
		{name: "audience of another server", opt: smarttest.AudienceClaim([]string{"https://a.example.org", "https://b.example.org"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := auth.Verify(t.Context(), is.Token(t, tc.opt)); !errors.Is(err, smartmw.ErrInvalidToken) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestSmartConfigurationIsValid(t *testing.T) {
	is := smarttest.NewIssuer(t)
	resp, err := is.Client().Get(is.URL() + "/.well-known/smart-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc wellknown.Configuration
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(); err != nil {
		t.Errorf("the issuer's SMART discovery document is not valid SMART 2.2: %v", err)
	}
}

func TestAudienceOption(t *testing.T) {
	is := smarttest.NewIssuer(t, smarttest.ForAudience("https://ehr.example.org/fhir"))
	auth, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Verify(t.Context(), is.Token(t)); err != nil {
		t.Errorf("token for the configured audience: %v", err)
	}
	if is.Audience() != "https://ehr.example.org/fhir" || is.Config().Issuer.Audience != is.Audience() {
		t.Errorf("Audience() = %q, Config().Audience = %q", is.Audience(), is.Config().Issuer.Audience)
	}
}

func TestClockDrivesTokensAndTheGuardAlike(t *testing.T) {
	now := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC) // years before the real clock
	is := smarttest.NewIssuer(t, smarttest.Clock(func() time.Time { return now }))
	guard, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	tok := is.Token(t, smarttest.Lifetime(time.Minute))
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		t.Fatal(err)
	}
	if iat, _ := claims.GetIssuedAt(); iat == nil || !iat.Equal(now) {
		t.Errorf("iat %v, want the Issuer's clock %v", iat, now)
	}
	if _, err := guard.Verify(t.Context(), tok); err != nil {
		t.Errorf("a token of the Issuer's clock, verified by its Config: %v", err)
	}
	expired := is.Token(t, smarttest.Expired())
	now = now.Add(2 * time.Minute)
	for name, tok := range map[string]string{"a minute's token two minutes on": tok, "Expired": expired} {
		if _, err := guard.Verify(t.Context(), tok); !errors.Is(err, jwt.ErrTokenExpired) {
			t.Errorf("%s: %v, want %v", name, err, jwt.ErrTokenExpired)
		}
	}
}

func TestSignRawSignsWhatItIsGiven(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	hdr := `{"alg":"RS256","typ":"at+jwt","kid":"` + is.KeyID() + `"}`
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	claims := `"iss":"` + is.URL() + `","aud":"` + is.Audience() + `","exp":` + exp
	g, err := guard.Verify(t.Context(), is.SignRaw(t, hdr, `{`+claims+`,"patient":"p1","patient":"p2"}`))
	if err != nil {
		t.Fatalf("a token signed raw: %v", err)
	}
	if g.Patient() != "p2" {
		t.Errorf("patient %q, want the last of the duplicates (the payload as written)", g.Patient())
	}
	for name, tok := range map[string]string{
		"another kid":        is.SignRaw(t, `{"alg":"RS256","typ":"at+jwt","kid":"not-`+is.KeyID()+`"}`, `{`+claims+`}`),
		"payload not JSON":   is.SignRaw(t, hdr, `[`+claims+`]`),
		"header of alg none": is.SignRaw(t, `{"alg":"none","typ":"at+jwt","kid":"`+is.KeyID()+`"}`, `{`+claims+`}`),
	} {
		if _, err := guard.Verify(t.Context(), tok); !errors.Is(err, smartmw.ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
}
