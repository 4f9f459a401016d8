package fhirstore

import (
	"context"
	"net/http"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// Parts are what every framework example wires into its router.
type Parts struct {
	Guard         *smartmw.Guard // the whole protection: 401, 403, and the response guard
	Store         *Store         // the FHIR API
	Discovery     http.Handler   // the SMART discovery document, public
	DiscoveryPath string         // where Discovery is mounted
}

// Build makes the Parts for cfg: the Guard trusts cfg.Issuer, and the
// FHIR API lives at cfg.Audience.
func Build(ctx context.Context, cfg smartmw.Config) (*Parts, error) {
	guard, err := smartmw.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	store, err := New(cfg.Issuer.Audience)
	if err != nil {
		return nil, err
	}
	discovery, path, err := Discovery(cfg.Issuer.URL, cfg.Issuer.Audience)
	if err != nil {
		return nil, err
	}
	return &Parts{Guard: guard, Store: store, Discovery: discovery, DiscoveryPath: path}, nil
}
