package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/examples/internal/devauth"
	"github.com/smartguard/smartguard/internal/testissuer"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/wellknown"
)

// demoScopes are the scopes the demo advertises and enforces; the
// granular ones are the nine of ONC (g)(10) (the eight HTI-1 names and
// the clinical-test procedure category).
var demoScopes = []string{
	"launch", "launch/patient", "launch/encounter", "openid", "fhirUser", "offline_access",
	"patient/*.rs", "patient/Patient.r", "patient/Observation.rs", "patient/Observation.c", "patient/Condition.rs", "patient/MedicationRequest.rs",
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|social-history",
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|survey",
	"patient/Observation.rs?category=http://hl7.org/fhir/us/core/CodeSystem/us-core-category|sdoh",
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|procedure",
	"patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item",
	"patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis",
	"patient/Condition.rs?category=http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern",
	"patient/Goal.rs", "patient/Encounter.rs",
	"user/*.rs", "system/*.rs", "system/Observation.rs",
}

// demoClientID is the demo SMART app's client id at the embedded
// authorization server; its one redirect URI is ROOT/app/.
const demoClientID = "demo-app"

// devUser is who the embedded authorization server signs everyone in as
// in the browser flows: nobody logs in. Dr Jones is in the sample data.
const devUser = "Practitioner/dr-jones"

// embeddedAuth is the embedded development authorization server: keys,
// metadata, the client_credentials token endpoint of the curl steps, the
// browser flows of the demo app, and RFC 7009 revocation.
type embeddedAuth struct {
	dev   *testissuer.Issuer
	flows *devauth.Flows
	// revoked receives the access tokens its revocation endpoint
	// revokes, as a real authorization server's revocation events would
	// reach a resource server: the guard consults it on every request
	// (Config.Tokens.Revocations), so a revoked token is refused at once:
	// a RevocationList in memory, or, with -redis, revocations in the
	// shared store, which every replica consults.
	revoked smartmw.Revocations
	// dpop: the token endpoint binds tokens to the keys of DPoP proofs.
	dpop bool
}

// newEmbeddedAuth makes the authorization server of a demo served at root
// (its issuer is root/auth) for the FHIR base audience. ttl is the
// lifetime of its access tokens (default devauth.DefaultAccessTTL). With
// proofs, the record of used DPoP proofs, its token endpoint binds the
// tokens of a request with a DPoP proof to the proof's key (leeway is the
// clock skew it allows on the proof's iat; 0 for the default); without,
// it refuses DPoP proofs. With shared (the store of -redis, or nil), the
// revocations it makes are kept there, for every replica.
func newEmbeddedAuth(root, audience string, ttl, leeway time.Duration, proofs devauth.Replays, shared smartmw.Store) (*embeddedAuth, error) {
	dev, err := testissuer.New("RS256")
	if err != nil {
		return nil, err
	}
	dev.SetURL(root + "/auth")
	var checker *devauth.ProofChecker
	if proofs != nil {
		checker, err = devauth.NewProofChecker(devauth.ProofConfig{
			TokenEndpoint: dev.URL() + "/token", Algorithms: dpopAlgorithms, Leeway: leeway, Replays: proofs,
		})
		if err != nil {
			return nil, err
		}
	}
	revoked, revokeJTI := revocations(shared)
	flows, err := devauth.New(dev, devauth.FlowsConfig{
		Audience:  audience,
		AccessTTL: ttl,
		DPoP:      checker,
		Clients:   []devauth.Client{{ID: demoClientID, Name: "Demo SMART app", RedirectURIs: []string{root + "/app/"}}},
		Revoked: func(ctx context.Context, t devauth.RevokedToken) error {
			return revokeJTI(ctx, t.Issuer, t.JTI, t.ExpiresAt)
		},
	})
	if err != nil {
		return nil, err
	}
	return &embeddedAuth{dev: dev, flows: flows, revoked: revoked, dpop: checker != nil}, nil
}

// revocations returns the revocations the embedded server makes and the
// guard consults, and how to revoke a token by its issuer and jti: in the
// shared store when there is one (-redis), else in a list in memory.
func revocations(shared smartmw.Store) (smartmw.Revocations, func(ctx context.Context, iss, jti string, exp time.Time) error) {
	if shared != nil {
		s := smartmw.NewStoreRevocations(shared, smartmw.StoreRevocationsOptions{})
		return s, s.RevokeJTI
	}
	l := smartmw.NewRevocationList(smartmw.RevocationListOptions{})
	return l, func(_ context.Context, iss, jti string, exp time.Time) error { return l.RevokeJTI(iss, jti, exp) }
}

// mount serves the token and revocation endpoints, the JWKS and the
// OpenID metadata: what the guard needs before it starts. The browser
// pages come later (see browser.routes).
func (a *embeddedAuth) mount(mux *http.ServeMux) {
	mux.Handle("POST /auth/token", a.flows.TokenHandler(tokenEndpoint(a.dev, a.flows.Audience(), a.flows.AccessTTL())))
	mux.Handle("POST /auth"+devauth.RevocationPath, a.flows.RevocationHandler())
	mux.Handle("GET /auth/", http.StripPrefix("/auth", a.dev.Handler("/token")))
	if a.dpop {
		mux.Handle("GET /auth/.well-known/openid-configuration", withDPoPMetadata(func() []byte { return a.dev.Metadata("/token") }))
	}
}

// revocations is what the guard consults about revoked tokens: the
// list the embedded server's revocation endpoint feeds, or none without
// it (a real authorization server's revocations do not reach the demo).
func (a *embeddedAuth) revocations() smartmw.Revocations {
	if a == nil {
		return nil
	}
	return a.revoked
}

// tokenEndpoint is the development token endpoint for grant_type
// client_credentials: any scope and, for development only, a patient and
// a fhirUser to put in the token. It authenticates no client: the
// client_id it is given (the form's, else HTTP Basic's user name, else
// demo-app) is the token's client_id and, without a fhirUser, its sub,
// so that each backend client gets tokens of its own (Bulk Data jobs are
// bound to their client). Development only: a real authorization server
// authenticates the client (SMART Backend Services: a signed JWT
// assertion). Tokens live ttl. A request whose DPoP proof passed (the
// key in devauth.BoundKey) gets a DPoP-bound token: cnf.jkt, token_type
// DPoP.
func tokenEndpoint(dev *testissuer.Issuer, audience string, ttl time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenError := func(code, desc string) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			tokenError("invalid_request", "the body must be application/x-www-form-urlencoded")
			return
		}
		if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
			tokenError("unsupported_grant_type", "grant_type must be client_credentials, authorization_code or refresh_token")
			return
		}
		scopes := r.PostForm.Get("scope")
		if set := scope.Parse(scopes); len(set.Invalid()) > 0 {
			tokenError("invalid_scope", fmt.Sprintf("not SMART scopes: %q", set.Invalid()))
			return
		}
		client := r.PostForm.Get("client_id")
		if user, _, ok := r.BasicAuth(); ok && client == "" {
			client = user
		}
		if client == "" {
			client = demoClientID
		}
		if !validClientID(client) {
			tokenError("invalid_client", "client_id must be 1 to 64 letters, digits, '-', '_' or '.'")
			return
		}
		patient, fhirUser := r.PostForm.Get("patient"), r.PostForm.Get("fhirUser")
		if patient != "" && !smartctx.ValidID(patient) {
			tokenError("invalid_request", "patient must be a FHIR id, such as example")
			return
		}
		if _, _, ok := smartctx.SplitUserReference(fhirUser); fhirUser != "" && !ok {
			tokenError("invalid_request", "fhirUser must reference a Patient, Practitioner, PractitionerRole, RelatedPerson or Person")
			return
		}
		now := time.Now()
		claims := jwt.MapClaims{
			"iss": dev.URL(), "aud": audience, "sub": client, "client_id": client,
			"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": rand.Text(), "scope": scopes,
		}
		resp := map[string]any{"token_type": "Bearer", "expires_in": int(ttl / time.Second), "scope": scopes}
		if jkt := devauth.BoundKey(r.Context()); jkt != "" {
			claims["cnf"], resp["token_type"] = map[string]any{"jkt": jkt}, "DPoP"
		}
		if patient != "" {
			claims["patient"], resp["patient"] = patient, patient
		}
		if fhirUser != "" {
			claims["fhirUser"], claims["sub"] = fhirUser, fhirUser
		}
		tok, err := dev.Sign(claims, nil)
		if err != nil {
			tokenError("server_error", "could not sign")
			return
		}
		resp["access_token"] = tok
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		// access_token first, so that a shell can cut it out with sed.
		fmt.Fprintf(w, `{"access_token":%q`, tok)
		delete(resp, "access_token")
		rest, _ := json.Marshal(resp)
		io.WriteString(w, ","+string(rest[1:])+"\n")
	})
}

// validClientID reports whether id is a client id the development token
// endpoint hands out tokens for.
func validClientID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// embeddedDiscovery is the SMART discovery document for the embedded
// authorization server: exactly what it serves. Standalone and EHR
// launches of public clients with PKCE S256, patient and encounter
// context in both, refresh tokens for offline_access, id tokens with
// fhirUser, client_credentials tokens for the curl steps, and RFC 7009
// revocation.
func embeddedDiscovery(issuer string) *wellknown.Configuration {
	return &wellknown.Configuration{
		Issuer:                            issuer,
		JWKSURI:                           issuer + "/jwks.json",
		AuthorizationEndpoint:             issuer + testissuer.AuthorizePath,
		TokenEndpoint:                     issuer + "/token",
		RevocationEndpoint:                issuer + devauth.RevocationPath,
		TokenEndpointAuthMethodsSupported: []string{"none"},
		GrantTypesSupported:               []string{"authorization_code", "client_credentials", "refresh_token"},
		ResponseTypesSupported:            []string{"code"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ScopesSupported:                   demoScopes,
		Capabilities: []wellknown.Capability{
			wellknown.LaunchEHR, wellknown.LaunchStandalone, wellknown.ClientPublic,
			wellknown.ContextEHRPatient, wellknown.ContextEHREncounter,
			wellknown.ContextStandalonePatient, wellknown.ContextStandaloneEncounter,
			wellknown.PermissionOffline, wellknown.PermissionPatient, wellknown.PermissionUser,
			wellknown.PermissionV1, wellknown.PermissionV2, wellknown.SSOOpenIDConnect,
		},
	}
}

// describe adds to a document built from a real authorization server's
// metadata what the demo supports on top of it.
func describe(doc *wellknown.Configuration) {
	caps := []wellknown.Capability{wellknown.PermissionPatient, wellknown.PermissionUser,
		wellknown.PermissionV1, wellknown.PermissionV2}
	if doc.AuthorizationEndpoint != "" {
		caps = append(caps, wellknown.LaunchStandalone, wellknown.ClientPublic,
			wellknown.ClientConfidentialSymmetric, wellknown.ContextStandalonePatient)
	}
	if doc.Issuer != "" && doc.JWKSURI != "" {
		caps = append(caps, wellknown.SSOOpenIDConnect)
	} else {
		doc.Issuer = ""
	}
	doc.Capabilities = caps
	doc.ScopesSupported = demoScopes
	if len(doc.CodeChallengeMethodsSupported) == 0 {
		doc.CodeChallengeMethodsSupported = []string{"S256"}
	}
}
