package bench

import (
	"context"
	"crypto"
	"net/http"
	"testing"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
)

// smartClaims are the SMART claims auth0's validator decodes besides the
// registered ones, as its README shows for a "scope" claim: the same work
// smartguard does to read them (without checking them).
type smartClaims struct {
	Scope    string `json:"scope"`
	Patient  string `json:"patient"`
	FHIRUser string `json:"fhirUser"`
	ClientID string `json:"client_id"`
}

// Validate accepts any SMART claims.
func (smartClaims) Validate(context.Context) error { return nil }

// auth0Validator returns auth0/go-jwt-middleware v2's validator for
// tokens of alg signed with pub's private key, with the issuer and
// audience checks.
func auth0Validator(tb testing.TB, alg string, pub crypto.PublicKey) *validator.Validator {
	tb.Helper()
	v, err := validator.New(func(context.Context) (any, error) { return pub, nil },
		validator.SignatureAlgorithm(alg), issuer, []string{audience},
		validator.WithCustomClaims(func() validator.CustomClaims { return &smartClaims{} }))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// auth0Handler is next behind auth0's middleware: authentication only.
// It knows nothing of SMART scopes, patients or FHIR requests.
func auth0Handler(tb testing.TB, alg string, pub crypto.PublicKey, next http.Handler) http.Handler {
	return jwtmiddleware.New(auth0Validator(tb, alg, pub).ValidateToken).CheckJWT(next)
}
