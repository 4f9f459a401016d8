package fhirstore

import (
	"net/http"

	"github.com/smartguard/smartguard/wellknown"
)

// Discovery returns the examples' SMART discovery document for a FHIR
// base whose tokens come from issuer, and the path to mount it on.
func Discovery(issuer, base string) (http.Handler, string, error) {
	h, err := wellknown.Handler(wellknown.Configuration{
		TokenEndpoint:                 issuer + "/token",
		GrantTypesSupported:           []string{"client_credentials"},
		CodeChallengeMethodsSupported: []string{"S256"},
		Capabilities:                  []wellknown.Capability{wellknown.PermissionPatient, wellknown.PermissionV2},
	})
	if err != nil {
		return nil, "", err
	}
	path, err := wellknown.Path(base)
	return h, path, err
}
