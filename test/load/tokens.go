package main

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/testissuer"
)

// authServer is the development authorization server of a run: its keys
// are published on loopback (OpenID configuration and JWKS) and it mints
// the tokens of every kind the load sends.
type authServer struct {
	dev    *testissuer.Issuer
	srv    *httptest.Server
	forger *rsa.PrivateKey // a key the server does not publish
}

// newAuthServer starts an RS256 authorization server on 127.0.0.1.
func newAuthServer() (*authServer, error) {
	dev, err := testissuer.New("RS256")
	if err != nil {
		return nil, err
	}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(dev.Handler("/token"))
	dev.SetURL(srv.URL)
	return &authServer{dev: dev, srv: srv, forger: forger}, nil
}

func (a *authServer) url() string { return a.srv.URL }

func (a *authServer) close() { a.srv.Close() }

// patientScopes are those of a patient app that reads and writes its
// patient's Observations.
const patientScopes = "launch/patient openid fhirUser patient/Patient.r patient/Observation.crus"

// tokens are the tokens a run sends, minted once: per patient a valid
// one, a read-only one, an expired one and a forged one; a clinician's
// user/ token; and one for another audience.
type tokens struct {
	valid, readOnly, expired, forged map[string]string
	user, wrongAudience              string
}

// mint returns every token for the FHIR server at audience whose
// patients are given.
func (a *authServer) mint(audience string, patients []string) (*tokens, error) {
	now := time.Now()
	claims := func(scopes, patient string) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": a.url(), "aud": audience, "sub": "load-" + patient, "client_id": "load-app",
			"iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(), "jti": rand.Text(), "scope": scopes,
		}
		if patient != "" {
			c["patient"] = patient
		}
		return c
	}
	t := &tokens{valid: map[string]string{}, readOnly: map[string]string{}, expired: map[string]string{}, forged: map[string]string{}}
	var errs []error
	sign := func(c jwt.MapClaims) string {
		s, err := a.dev.Sign(c, nil)
		errs = append(errs, err)
		return s
	}
	for _, p := range patients {
		t.valid[p] = sign(claims(patientScopes, p))
		t.readOnly[p] = sign(claims("launch/patient patient/Patient.r patient/Observation.rs", p))
		old := claims(patientScopes, p)
		old["iat"], old["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		t.expired[p] = sign(old)
		f, err := testissuer.SignWith(jwt.SigningMethodRS256, a.forger, a.dev.KeyID(), claims(patientScopes, p), nil)
		errs = append(errs, err)
		t.forged[p] = f
	}
	u := claims("openid fhirUser user/Patient.rs user/Observation.rs", "")
	u["fhirUser"] = "Practitioner/dr-load"
	t.user = sign(u)
	w := claims(patientScopes, patients[0])
	w["aud"] = "https://other.example.org/fhir"
	t.wrongAudience = sign(w)
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("minting tokens: %w", err)
		}
	}
	return t, nil
}
