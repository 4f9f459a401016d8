package middleware_test

import (
	"context"
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// testIssuerURL is the issuer of the Guards made by newAuthz; their tests
// put grants on the context by hand and verify no token.
const testIssuerURL = "https://as.example.org"

// newAuthz returns a Guard for authorization tests: cfg with the test
// issuer, a Keyfunc that verifies nothing, and an Audience from cfg.Base
// when cfg.Base is a URL or a path (on https://ehr.example.org).
func newAuthz(cfg smartmw.Config) (*smartmw.Guard, error) {
	if cfg.Issuer.URL == "" {
		cfg.Issuer.URL = testIssuerURL
	}
	if cfg.Issuer.Keyfunc == nil && cfg.Issuer.JWKSURL == "" {
		cfg.Issuer.Keyfunc = func(*jwt.Token) (any, error) { return nil, errors.New("no keys in authorization tests") }
	}
	if cfg.Issuer.Audience == "" {
		switch {
		case strings.HasPrefix(cfg.Base, "/"):
			cfg.Issuer.Audience = "https://ehr.example.org" + strings.TrimSuffix(cfg.Base, "/")
			cfg.Base = ""
		case cfg.Base != "":
			cfg.Issuer.Audience, cfg.Base = strings.TrimSuffix(cfg.Base, "/"), ""
		}
	}
	return smartmw.New(context.Background(), cfg)
}
