package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/devauth"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/wellknown"
)

// demoScopes are the scopes the demo advertises and enforces.
var demoScopes = []string{
	"launch/patient", "openid", "fhirUser",
	"patient/*.rs", "patient/Patient.r", "patient/Observation.rs", "patient/Condition.rs", "patient/MedicationRequest.rs",
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|social-history",
	"patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis",
	"patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|health-concern",
	"patient/Goal.rs", "patient/Encounter.rs",
	"user/*.rs", "system/*.rs", "system/Observation.rs",
}

// tokenEndpoint is the development token endpoint: grant_type
// client_credentials with any scope and, for development only, a patient
// and a fhirUser to put in the token. It authenticates no client.
func tokenEndpoint(dev *devauth.Issuer, audience string) http.Handler {
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
			tokenError("unsupported_grant_type", "only client_credentials is supported here")
			return
		}
		scopes := r.PostForm.Get("scope")
		if set := scope.Parse(scopes); len(set.Invalid()) > 0 {
			tokenError("invalid_scope", fmt.Sprintf("not SMART scopes: %q", set.Invalid()))
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
			"iss": dev.URL(), "aud": audience, "sub": "demo-user", "client_id": "demo-app",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text(), "scope": scopes,
		}
		resp := map[string]any{"token_type": "Bearer", "expires_in": 3600, "scope": scopes}
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

// embeddedDiscovery is the SMART discovery document for the embedded
// authorization server: backend-style client_credentials tokens only.
func embeddedDiscovery(issuer string) *wellknown.Configuration {
	return &wellknown.Configuration{
		TokenEndpoint:                 issuer + "/token",
		GrantTypesSupported:           []string{"client_credentials"},
		CodeChallengeMethodsSupported: []string{"S256"},
		ScopesSupported:               demoScopes,
		Capabilities: []wellknown.Capability{wellknown.PermissionPatient, wellknown.PermissionUser,
			wellknown.PermissionV1, wellknown.PermissionV2},
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
