package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// authFlags are the demo's flags for authorization servers whose tokens
// need more than the defaults: opaque tokens (introspection) and launch
// context in nested claims.
type authFlags struct {
	tokens        smartmw.TokenFormat
	introspection smartmw.Introspection
	claims        smartmw.ClaimNames
}

// register adds the flags to fs.
func (a *authFlags) register(fs *flag.FlagSet) {
	fs.Func("tokens", "how the issuer's tokens are checked: jwt (default), introspect, or jwt-or-introspect (JWTs with keys, opaque tokens by introspection)", func(v string) error {
		switch v {
		case "jwt":
			a.tokens = smartmw.TokensJWT
		case "introspect":
			a.tokens = smartmw.TokensIntrospect
		case "jwt-or-introspect":
			a.tokens = smartmw.TokensJWTOrIntrospect
		default:
			return fmt.Errorf("%q is not jwt, introspect or jwt-or-introspect", v)
		}
		return nil
	})
	fs.StringVar(&a.introspection.Endpoint, "introspection-endpoint", "", "the issuer's RFC 7662 introspection endpoint (default: from its metadata)")
	fs.StringVar(&a.introspection.ClientID, "introspection-client-id", "", "this server's client id at the issuer, to introspect tokens")
	fs.StringVar(&a.introspection.ClientSecret, "introspection-client-secret", "", "this server's client secret at the issuer")
	fs.Func("introspection-auth", "how to authenticate to the introspection endpoint: basic (default with a client id), post, or none", func(v string) error {
		switch v {
		case "basic":
			a.introspection.Auth = smartmw.IntrospectionClientSecretBasic
		case "post":
			a.introspection.Auth = smartmw.IntrospectionClientSecretPost
		case "none":
			a.introspection.Auth = smartmw.IntrospectionNone
		default:
			return fmt.Errorf("%q is not basic, post or none", v)
		}
		return nil
	})
	fs.Func("claim", "where tokens hold a SMART value, as NAME=PATH (repeatable, tried in order): "+
		"patient=ext.patient, fhirUser=ext.fhirUser, client_id=cid, ...", a.claim)
}

// claim parses one -claim NAME=PATH flag.
func (a *authFlags) claim(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || path == "" {
		return fmt.Errorf("%q is not NAME=PATH", v)
	}
	fields := map[string]*[]string{
		"scope": &a.claims.Scope, "client_id": &a.claims.ClientID, "patient": &a.claims.Patient,
		"encounter": &a.claims.Encounter, "fhirUser": &a.claims.FHIRUser, "fhirContext": &a.claims.FHIRContext,
		"tenant": &a.claims.Tenant, "intent": &a.claims.Intent, "need_patient_banner": &a.claims.NeedPatientBanner,
		"smart_style_url": &a.claims.SmartStyleURL,
	}
	f := fields[name]
	if f == nil {
		return fmt.Errorf("%q is not a SMART claim (scope, client_id, patient, encounter, fhirUser, fhirContext, tenant, intent, need_patient_banner, smart_style_url)", name)
	}
	*f = append(*f, path)
	return nil
}

// loadPolicy reads the -policy file: nil for none.
func loadPolicy(path string) (*smartmw.AccessPolicy, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := smartmw.LoadAccessPolicy(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
