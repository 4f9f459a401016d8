package fhirstore

import (
	"context"
	"net/http"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// Parts are what every framework example wires into its router.
type Parts struct {
	Auth          *smartmw.Middleware // authentication: 401 without a valid token
	Authz         *smartmw.Authorizer // authorization: 403 for what the scopes do not allow
	Store         *Store              // the FHIR API
	Discovery     http.Handler        // the SMART discovery document, public
	DiscoveryPath string              // where Discovery is mounted
}

// Build makes the Parts for cfg: the middleware trusts cfg.Issuer, and the
// FHIR API lives at cfg.Audience.
func Build(ctx context.Context, cfg smartmw.Config) (*Parts, error) {
	auth, err := smartmw.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	authz, err := smartmw.NewAuthorizer(smartmw.AuthorizerConfig{Base: cfg.Audience})
	if err != nil {
		return nil, err
	}
	store, err := New(cfg.Audience)
	if err != nil {
		return nil, err
	}
	discovery, path, err := Discovery(cfg.Issuer, cfg.Audience)
	if err != nil {
		return nil, err
	}
	return &Parts{Auth: auth, Authz: authz, Store: store, Discovery: discovery, DiscoveryPath: path}, nil
}
