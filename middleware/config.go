package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/jwks"
	"github.com/smartguard/smartguard/scope"
)

// Defaults of the Config fields whose zero value means "the default".
const (
	// DefaultLeeway is the default Config.Tokens.Leeway.
	DefaultLeeway = 30 * time.Second
	// DefaultRealm is the default Config.Hooks.Realm.
	DefaultRealm = "fhir"
	// DefaultRefreshInterval is the default Config.Keys.RefreshInterval.
	DefaultRefreshInterval = time.Hour
	// DefaultUnknownKIDInterval is the default Config.Keys.UnknownKIDInterval.
	DefaultUnknownKIDInterval = 15 * time.Second
	// DefaultMaxKeyStaleness is the default Config.Keys.MaxStaleness.
	DefaultMaxKeyStaleness = 24 * time.Hour
	// DefaultIntrospectionCacheTTL is the default Introspection.CacheTTL.
	DefaultIntrospectionCacheTTL = time.Minute
	// DefaultIntrospectionTimeout is the default Introspection.Timeout.
	DefaultIntrospectionTimeout = 5 * time.Second
	// DefaultMaxTokenSize is the default Config.Bounds.MaxTokenSize.
	DefaultMaxTokenSize = 16 << 10
	// DefaultCacheSize is the default Config.Cache.Size.
	DefaultCacheSize = 10000
	// DefaultCacheTTL is the default Config.Cache.TTL.
	DefaultCacheTTL = 5 * time.Minute
	// DefaultHTTPTimeout is the timeout of the default Config.HTTPClient.
	DefaultHTTPTimeout = 10 * time.Second
	// DefaultMaxBodyBytes is the default Config.Bounds.MaxBodyBytes.
	DefaultMaxBodyBytes = 10 << 20
	// DefaultMaxResponseBytes is the default Config.Bounds.MaxResponseBytes.
	DefaultMaxResponseBytes = 32 << 20
	// DefaultMaxBundleEntries is the default Config.Bounds.MaxBundleEntries.
	DefaultMaxBundleEntries = 1000
	// DefaultMaxStoredReads is the default Config.Bounds.MaxStoredReads.
	DefaultMaxStoredReads = 100
)

// MaxLeeway is the largest Leeway New accepts.
const MaxLeeway = 5 * time.Minute

// DefaultAlgorithms are the JWS algorithms accepted when
// Config.Tokens.Algorithms is empty: RSA PKCS#1 v1.5, RSA-PSS, ECDSA and EdDSA.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Config configures a Guard. Issuer.URL and Issuer.Audience are required;
// every other zero field selects its default, the strict choice. Fields
// that weaken a check are named Insecure… or Skip…. New reports every
// problem of a Config in one error. The fields follow the path of a
// request; the package documentation maps them to the docs/ pages.
type Config struct {
	// Issuer is the trusted authorization server. URL and Audience are
	// required.
	Issuer Issuer

	// Issuers are further trusted authorization servers (multi-tenant).
	// A token is verified with the keys, and against the audiences, of
	// the one its "iss" names; nothing is inherited from Issuer.
	Issuers []Issuer

	// Base is the local path of Issuer.Audience's FHIR API, when a proxy
	// maps it elsewhere (https://fhir.example.org/r4 to /fhir). It starts
	// with "/" and does not end with one. Default: Audience's path.
	Base string

	// TrustForwardedHost reads a request's host, where it tells bases
	// apart (see Issuer.Audiences), from the last Forwarded host= or
	// X-Forwarded-Host value instead of Host. The header then chooses the
	// tenant: set it only behind a proxy that sets it on every request
	// and that this server cannot be reached without. Default: Host.
	TrustForwardedHost bool

	// AllowedOrigins are the browser origins (scheme://host[:port]) that
	// may call the FHIR API cross-origin; Handler answers their preflight
	// requests before authentication (see CORS). Default: none, no CORS
	// headers.
	AllowedOrigins []string

	// Tokens says how an access token is checked.
	Tokens TokenOptions

	// DPoP says how the proofs of DPoP-bound tokens are checked, for the
	// issuers whose Issuer.DPoP accepts them.
	DPoP DPoPOptions

	// Keys says how the issuers' JWKS are fetched and refreshed.
	Keys KeyOptions

	// HTTPClient fetches discovery documents and JWKS, and calls
	// introspection endpoints. Default: a client with a 10 s timeout
	// (never http.DefaultClient). Bodies are cut at 1 MiB and redirects
	// must stay on https (or loopback http).
	HTTPClient *http.Client

	// Cache says how long verified tokens are remembered.
	Cache CacheOptions

	// FHIR says what scopes allow where SMART leaves the choice to the
	// server, and how the response guard works.
	FHIR FHIROptions

	// Policy is the application's own rule, asked after the scopes and
	// the AccessPolicy. Default: none. Without a Policy or an
	// AccessPolicy, user/ scopes (but a Patient user's) and system/
	// scopes reach every resource of their types: set one unless the
	// authorization server already limits who gets them.
	Policy Policy

	// AccessPolicy is what users and clients may do, intersected with
	// their user/ and system/ scopes (see LoadAccessPolicy). Default:
	// none.
	AccessPolicy *AccessPolicy

	// Bounds are the sizes beyond which a request is refused.
	Bounds Bounds

	// Hooks are how refusals are answered and what is told of each
	// request.
	Hooks Hooks
}

// Issuer is a trusted authorization server: Config.Issuer, and each of
// Config.Issuers.
type Issuer struct {
	// URL is the identifier of the authorization server, compared exactly
	// with the "iss" claim (RFC 9068 §4). It must be an https URL; http is
	// allowed for loopback hosts (127.0.0.1, ::1, localhost). Required.
	URL string

	// Audience is a FHIR base URL its tokens are for, such as
	// "https://fhir.example.org/r4", without a trailing "/": a token's
	// "aud" must contain it exactly, and requests are served under its
	// path (see Config.Base). Required.
	Audience string

	// Audiences are further FHIR base URLs its tokens may be for
	// (tenants). A request under one is allowed only with a token whose
	// "aud" names that base, from an issuer configured for it: tenant B's
	// token is refused on tenant A's base. Bases are told apart by path,
	// and by host where paths cannot (Config.TrustForwardedHost); New
	// refuses two audiences that are one base. See
	// docs/authorization-servers.md#tenants.
	Audiences []string

	// JWKSURL is where its public keys are. When empty it is discovered
	// from the issuer's /.well-known/openid-configuration, then
	// /.well-known/oauth-authorization-server (RFC 8414); the document
	// must name the same issuer, or New fails. Same URL rules as URL.
	JWKSURL string

	// Keyfunc, when set, replaces discovery and the JWKS: it returns
	// this issuer's key (or a jwt.VerificationKeySet) for a token whose
	// header is checked. Every other check still applies.
	Keyfunc jwt.Keyfunc

	// Claims names the claims the SMART values are read from. Each zero
	// field takes its default.
	Claims ClaimNames

	// DecodeScopeSlashes reads "%2F" (any case) as "/" in its scopes,
	// before a scope's "?" only, for servers that cannot put "/" in a
	// scope name (Microsoft Entra ID: "patient%2FObservation.rs").
	// Default: such scopes grant nothing.
	DecodeScopeSlashes bool

	// Format says how its access tokens are checked: as JWTs (the
	// default), by introspection, or both.
	Format TokenFormat

	// Introspection configures the introspection of its tokens, for
	// Format TokensIntrospect or TokensJWTOrIntrospect.
	Introspection Introspection

	// DPoP says whether its tokens may be DPoP-bound (RFC 9449). Default
	// DPoPOff: bearer tokens only, a token with "cnf" is refused.
	DPoP DPoPMode
}

// TokenOptions say how an access token is checked: its algorithms, clock
// skew, type and source, and whether it has been revoked; see
// Config.Tokens.
type TokenOptions struct {
	// Algorithms is the allow-list of JWS "alg" values. Default
	// DefaultAlgorithms. "none" is refused by New; HMAC algorithms
	// (HS256, ...) can only work with a Keyfunc that returns secrets, as
	// keys from a JWKS are never symmetric.
	Algorithms []string

	// Leeway is the clock skew allowed on "exp", "nbf" and "iat".
	// Default 30 s; at most MaxLeeway.
	Leeway time.Duration

	// Now returns the current time, against which tokens, cached tokens
	// and introspection answers expire. Default time.Now.
	Now func() time.Time

	// RequireATJWT accepts only a "typ" of "at+jwt" or
	// "application/at+jwt" (any case, RFC 9068), and requires "sub",
	// "client_id", "iat" and "jti". By default "JWT" and an absent "typ"
	// are accepted too, as most authorization servers issue them; any
	// other "typ" is always refused.
	RequireATJWT bool

	// FormBody also accepts the token as the "access_token" of a form
	// body (RFC 6750 §2.2), never on GET or HEAD; the body (up to 1 MiB)
	// is put back for the next handler. Default: only the Authorization
	// header.
	FormBody bool

	// Revocations, when set, is asked about every token on every
	// request, cached or not: a token it lists is refused (401), and an
	// error of it is answered 503, never allowed. NewRevocationList is
	// one in memory. Default nil: a token revoked at the authorization
	// server is accepted until it expires (or its cached introspection
	// answer does). See docs/authorization-servers.md#revocation.
	Revocations Revocations
}

// KeyOptions say how the issuers' JWKS are fetched; see Config.Keys.
type KeyOptions struct {
	// RefreshInterval is how often each JWKS is fetched again when its
	// response has no Cache-Control max-age (honoured within 1 min to
	// 24 h). Default 1 h. A key the JWKS no longer lists is dropped at
	// the next successful fetch. See
	// docs/authorization-servers.md#keys-and-readiness.
	RefreshInterval time.Duration

	// UnknownKIDInterval is the least time between two fetches of a JWKS
	// caused by tokens (an unknown "kid", or no key held). Default 15 s.
	// Only a token that passes every check needing no key may cause one;
	// a forged token with a random kid can still spend it, delaying a
	// real rotation's tokens by at most this much.
	UnknownKIDInterval time.Duration

	// MaxStaleness is how long a JWKS's keys are used without a
	// successful fetch; then they are dropped, and that issuer's tokens
	// answered 503 until a fetch succeeds, so that a key revoked while
	// the JWKS was unreachable is not trusted forever. Default 24 h.
	MaxStaleness time.Duration

	// Wait makes New wait up to this long until every issuer's JWKS has
	// given at least one usable key, and fail when one has not. Default
	// 0: New waits for the first fetch only, and a Guard without keys
	// answers 503 (see Ready) until they arrive.
	Wait time.Duration
}

// CacheOptions say how verified tokens are remembered; see Config.Cache.
//
// Verified tokens are cached, keyed by the SHA-256 of the token: a token
// seen again skips signature verification. An entry lives until the
// token's "exp" or TTL, whichever is first, and "exp" is checked again on
// every hit. Failures are never cached. An entry costs about 2.9 KiB for a
// typical SMART token (measured: a 0.9 KiB RS256 token with 10 scopes and
// a patient; the grant holds the parsed scopes and every claim), so the
// default size bounds the cache near 30 MiB.
type CacheOptions struct {
	// Size is the largest number of entries. Default 10000. A grant of
	// more than MaxCachedScopes scopes is never cached.
	Size int
	// TTL is the longest an entry lives. Default 5 min: a key removed
	// from the JWKS keeps its cached tokens valid that long at most.
	TTL time.Duration
	// Disable verifies every token every time.
	Disable bool
}

// FHIROptions say what SMART scopes allow on FHIR requests where the
// specification leaves the choice to the server, and how the response
// guard works; see Config.FHIR. The rules are in docs/authorization.md.
type FHIROptions struct {
	// MetadataNeedsToken makes GET [base]/metadata need a token. By
	// default it is public, as SMART apps read it before they hold one:
	// open to any origin, and only a CapabilityStatement in FHIR JSON
	// may leave (502 otherwise).
	MetadataNeedsToken bool

	// RefuseBroadSearches refuses (403) a search that lacks the patient
	// or granular constraint its grant needs. By default such a search is
	// narrowed: the handler receives the query with the restriction added
	// (patient=Patient/<id>, the constraint), and must apply it as FHIR
	// says for paging and total to be exact (see
	// docs/authorization.md#narrowed-searches). Either way a search naming
	// another patient, or a type the grant does not cover, is refused.
	RefuseBroadSearches bool

	// NonCompartment says what patient/ scopes allow on types about no
	// patient: outside the R4 patient compartment and not patient-linked
	// (Device, Task, Binary, ... are held to the patient like compartment
	// types). Default: NonCompartmentNamed.
	NonCompartment NonCompartmentPolicy

	// Operations declares the operations that may run, keyed "$name"
	// (system level), "Type/$name" (type level) or "Type/[id]/$name"
	// (instance level), with "*" for any type ("*/[id]/$validate").
	// Every other operation is refused. Default (nil): DefaultOperations().
	Operations map[string]Operation

	// RefuseIncludes refuses searches with _include or _revinclude
	// (403). By default the response guard decides every included
	// resource as a read of it. "*" includes are always refused (400).
	RefuseIncludes bool

	// NotFoundForDenied answers 404 instead of 403 when a read, vread or
	// instance history is refused, or the response guard withholds a
	// resource, so that an app cannot learn that it exists.
	NotFoundForDenied bool

	// SkipPatientUserCompartment lets user/ scopes of a user whose
	// fhirUser is a Patient reach beyond that patient's compartment, to
	// which they are held by default, as patient/ scopes are. Set it only
	// with a Policy that limits those users itself.
	SkipPatientUserCompartment bool

	// SkipResponseGuard turns off the response guard, which by default
	// holds the answer of every request with something left to enforce,
	// withholds the resources the grant does not allow, and checks the
	// stored resource before a write by id: it is what makes reads and
	// writes by id under patient/ scopes safe in front of a FHIR server
	// that knows nothing of SMART. It MUST NOT be set unless the
	// handlers apply the Decision themselves (Permits). See
	// docs/authorization.md#the-response-guard.
	SkipResponseGuard bool

	// Export turns on Bulk Data export. Default: off, every $export
	// refused (403). See docs/bulk-data.md.
	Export ExportOptions
}

// Bounds are the sizes beyond which a request is refused; see
// Config.Bounds. Each zero field takes its default.
type Bounds struct {
	// MaxTokenSize bounds the length of an accepted token in bytes.
	// Default 16 KiB.
	MaxTokenSize int

	// MaxBodyBytes bounds the body read to check a create, an update, a
	// POST _search or a bundle; larger bodies are answered 413. Default:
	// 10 MiB.
	MaxBodyBytes int64

	// MaxResponseBytes bounds a response the guard holds; a larger one is
	// answered 502. Default: 32 MiB.
	MaxResponseBytes int64

	// MaxBundleEntries bounds the entries of a batch or transaction;
	// larger bundles are answered 413. Default: 1000.
	MaxBundleEntries int

	// MaxStoredReads bounds the stored resources the response guard
	// reads, through the handler, to check the writes by id of one
	// bundle (entries that write one resource under equal decisions
	// need one read); a bundle that needs more is answered 413.
	// Default: 100.
	MaxStoredReads int

	// MaxStoredBytes bounds the bytes of the stored resources the
	// response guard reads to check the writes by id of one request, in
	// all (each read is bounded by MaxResponseBytes too); a request that
	// needs more is answered 413. Default: MaxResponseBytes.
	MaxStoredBytes int64
}

// Hooks are how the Guard answers refusals and what it tells of each
// request; see Config.Hooks. Each is optional.
type Hooks struct {
	// ErrorHandler answers refused requests, whichever stage refuses
	// them. Default: WriteError with Realm (an RFC 6750 challenge and a
	// FHIR OperationOutcome).
	ErrorHandler ErrorHandler

	// Realm is the realm of the WWW-Authenticate challenge. Default "fhir".
	Realm string

	// ResourceMetadata adds resource_metadata (RFC 9728 §5.1), the URL
	// of the base's protected-resource metadata, to the challenge of
	// every 401 under a FHIR base. Set it when you serve
	// Guard.ProtectedResources (see docs/discovery-and-cors.md); New then
	// refuses audiences that cannot be RFC 9728 resources. Default: off.
	ResourceMetadata bool

	// Logger receives the outages of JWKS and introspection endpoints
	// (once per minute while they last, and their end), not request
	// failures. Tokens are never logged. Default slog.Default().
	Logger *slog.Logger

	// Audit, when set, is called after the answer to every request (but
	// preflights) with who asked, for what, and the outcome. It runs on
	// the request's goroutine: keep it fast. SlogAudit and FHIRAudit are
	// ready hooks. Default: none, at no cost. See docs/audit.md.
	Audit func(ctx context.Context, e AuditEvent)

	// Metrics, when set, receives counters and latencies; see Metrics.
	// Default: none, at no cost.
	Metrics Metrics
}

// TokenFormat says how an issuer's access tokens are checked.
type TokenFormat int

const (
	// TokensJWT: every token is a JWT (JWS) verified with the issuer's
	// keys. The default.
	TokensJWT TokenFormat = iota
	// TokensIntrospect: every token is sent to the issuer's RFC 7662
	// introspection endpoint; no key is fetched. A JWT naming the issuer
	// is introspected too. For authorization servers whose tokens are
	// opaque (Ory Hydra by default, oidc-provider, EHRs such as Epic), or
	// to notice revocation sooner.
	TokensIntrospect
	// TokensJWTOrIntrospect: a JWT naming the issuer is verified with its
	// keys; a token that is not a JWT is introspected.
	TokensJWTOrIntrospect
)

// Introspection is how the Guard asks an authorization server about an
// opaque token (RFC 7662, and SMART's token introspection page).
//
// The token is sent only to the one issuer that introspects opaque tokens
// for the request's FHIR base. Only an active answer for that base, with
// "exp", "client_id" and a scope, passes, and it is read with the
// issuer's Claims, as a JWT is. Active answers are cached until "exp" or
// CacheTTL, and, with Store, in a Store the replicas share. An endpoint
// that cannot be reached, answers garbage or takes longer than Timeout
// makes the request fail with 503 (ErrUnavailable, Retry-After), never
// pass. What an answer must hold is in
// docs/authorization-servers.md#opaque-tokens.
type Introspection struct {
	// Endpoint is the introspection endpoint. Default: the
	// introspection_endpoint of the issuer's metadata (OpenID Connect or
	// RFC 8414); New fails when it has none. Same URL rules as Issuer.
	// Redirects are not followed.
	Endpoint string

	// Auth is how the Guard authenticates to Endpoint. Default
	// IntrospectionAuto.
	Auth IntrospectionAuth
	// ClientID and ClientSecret are the Guard's own client credentials at
	// the authorization server, for IntrospectionClientSecretBasic and
	// IntrospectionClientSecretPost.
	ClientID, ClientSecret string
	// BearerToken returns the access token the Guard presents with
	// IntrospectionBearer (SMART: "an appropriately-scoped SMART App or
	// Backend Service bearer token"), such as one from an
	// oauth2.TokenSource of the FHIR server's own backend-services client.
	// It is called for every introspection call; cache in it.
	BearerToken func(ctx context.Context) (string, error)

	// CacheTTL is the longest an active answer is reused: a token revoked
	// at the authorization server is still accepted that long. Default
	// DefaultIntrospectionCacheTTL. Bounded by Config.Cache.Size, and off
	// with Config.Cache.Disable.
	CacheTTL time.Duration

	// Timeout bounds one call. Default DefaultIntrospectionTimeout.
	Timeout time.Duration

	// Store, when set, also keeps the active answers in a Store the
	// replicas share (NewMemoryStore is one process's), so that N
	// replicas ask the authorization server once per token and CacheTTL,
	// not N times. Each replica still caches in its own memory too. An
	// entry is named by a hash of the token (never the token) and sealed
	// (AES-256-GCM) under a key derived from the token, the issuer's URL
	// and ClientSecret (when set): only one who holds the token, and the
	// Guard's client secret, can read an entry or write one the Guard
	// will accept, so a Store writer cannot forge an active answer for a
	// token it does not hold. An entry that does not open, is older than
	// CacheTTL (by the time sealed in it), or whose answer no longer
	// passes the checks above is ignored and the endpoint asked; so is a
	// Store that errors or does not answer within StoreTimeout (the
	// authorization server decides; the outage is logged once a minute).
	// Only active answers are kept; inactive ones and failures never
	// are. See docs/replicas.md. Default: no shared cache. New refuses it
	// with Config.Cache.Disable.
	Store Store

	// StoreTimeout bounds each call to Store. Default
	// DefaultIntrospectionStoreTimeout (1 s).
	StoreTimeout time.Duration

	// SkipMissingAudience accepts an answer without "aud" as if it named
	// the issuer's Audience (its first FHIR base; never its other
	// Audiences). SMART does not require "aud" in answers, and some
	// servers omit it, but then the Guard cannot tell a token for this
	// server from one the same authorization server issued for another
	// resource server: it MUST NOT be set unless the authorization server
	// issues tokens for this FHIR server only. Default: such answers are
	// refused (401 invalid_token).
	SkipMissingAudience bool
}

// IntrospectionAuth is how the Guard authenticates to an introspection
// endpoint.
type IntrospectionAuth int

const (
	// IntrospectionAuto: IntrospectionClientSecretBasic when ClientID is
	// set, else IntrospectionBearer when BearerToken is set, else
	// IntrospectionNone.
	IntrospectionAuto IntrospectionAuth = iota
	// IntrospectionClientSecretBasic: HTTP Basic with the form-encoded
	// ClientID and ClientSecret (RFC 6749 §2.3.1).
	IntrospectionClientSecretBasic
	// IntrospectionClientSecretPost: client_id and client_secret in the
	// form body.
	IntrospectionClientSecretPost
	// IntrospectionBearer: "Authorization: Bearer" with BearerToken's
	// token.
	IntrospectionBearer
	// IntrospectionNone: no authentication, for an endpoint protected
	// otherwise (Ory Hydra's admin API on a private network).
	IntrospectionNone
)

// ClaimNames are the token claims the SMART values are read from. Each
// field lists names tried in order, the first claim present being used;
// an empty field takes the default shown. For example, for an
// authorization server that sends the patient as "patient_id":
//
//	Claims: smartmw.ClaimNames{Patient: []string{"patient", "patient_id"}}
//
// A name may also be a path into nested JSON objects, its steps separated
// by ".": "ext.patient" is the "patient" member of the "ext" object (Ory
// Hydra's place for the claims a login adds), "context.patient" that of
// "context". A name is first looked up as a top-level claim, so names that
// hold dots themselves (Auth0's namespaced claims, such as
// "https://fhir.example.org/patient") keep working; only when there is
// no such claim is it read as a path. A path stops at the first step that
// is not an object. The introspection answers of opaque tokens are read
// with the same names.
//
// A claim present with the wrong JSON type makes the token invalid.
type ClaimNames struct {
	Scope             []string // "scope" (space-delimited string), then "scp" (array or string)
	ClientID          []string // "client_id", then "azp"
	Patient           []string // "patient"
	Encounter         []string // "encounter"
	FHIRUser          []string // "fhirUser"
	FHIRContext       []string // "fhirContext"
	Tenant            []string // "tenant"
	Intent            []string // "intent"
	NeedPatientBanner []string // "need_patient_banner"
	SmartStyleURL     []string // "smart_style_url"
}

// check reports empty names, which name no claim.
func (n ClaimNames) check(who string) []error {
	var errs []error
	for _, f := range []struct {
		field string
		names []string
	}{
		{"Scope", n.Scope}, {"ClientID", n.ClientID}, {"Patient", n.Patient}, {"Encounter", n.Encounter},
		{"FHIRUser", n.FHIRUser}, {"FHIRContext", n.FHIRContext}, {"Tenant", n.Tenant}, {"Intent", n.Intent},
		{"NeedPatientBanner", n.NeedPatientBanner}, {"SmartStyleURL", n.SmartStyleURL},
	} {
		field, names := f.field, f.names
		for _, name := range names {
			if name == "" {
				errs = append(errs, fmt.Errorf("%sClaims.%s has an empty name", who, field))
			}
		}
	}
	return errs
}

func (n ClaimNames) withDefaults() ClaimNames {
	def := func(v []string, d ...string) []string {
		if len(v) == 0 {
			return d
		}
		return slices.Clone(v)
	}
	return ClaimNames{
		Scope:             def(n.Scope, "scope", "scp"),
		ClientID:          def(n.ClientID, "client_id", "azp"),
		Patient:           def(n.Patient, "patient"),
		Encounter:         def(n.Encounter, "encounter"),
		FHIRUser:          def(n.FHIRUser, "fhirUser"),
		FHIRContext:       def(n.FHIRContext, "fhirContext"),
		Tenant:            def(n.Tenant, "tenant"),
		Intent:            def(n.Intent, "intent"),
		NeedPatientBanner: def(n.NeedPatientBanner, "need_patient_banner"),
		SmartStyleURL:     def(n.SmartStyleURL, "smart_style_url"),
	}
}

// withDefaults returns cfg with every zero field set to its default, or
// an error listing every field that cannot work. After it, cfg.Issuers
// holds every issuer, Config.Issuer first, each with its defaults.
func (cfg Config) withDefaults() (Config, error) {
	all := append([]Issuer{cfg.Issuer}, cfg.Issuers...)
	errs := checkIssuers(all)
	keyfunc := slices.ContainsFunc(all, func(is Issuer) bool { return is.Keyfunc != nil })
	if cfg.Base != "" {
		if cfg.Base == cfg.Issuer.Audience {
			cfg.Base = ""
		} else if !strings.HasPrefix(cfg.Base, "/") || strings.HasSuffix(cfg.Base, "/") && cfg.Base != "/" || strings.ContainsAny(cfg.Base, "?#") {
			//lint:ignore ST1005 Base is the name of the Config field at fault
			errs = append(errs, fmt.Errorf("Base %q must be a path starting with / and not ending with one (or Issuer.Audience itself)", cfg.Base))
		}
	}
	for _, o := range cfg.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	errs = append(errs, cfg.Tokens.withDefaults(keyfunc)...)
	errs = append(errs, cfg.DPoP.withDefaults(all)...)
	errs = append(errs, cfg.Keys.withDefaults()...)
	errs = append(errs, cfg.Cache.withDefaults()...)
	for _, is := range all {
		if is.Introspection.Store != nil && cfg.Cache.Disable {
			errs = append(errs, fmt.Errorf("issuer %q: Introspection.Store caches answers, and Cache.Disable is set", is.URL))
		}
	}
	errs = append(errs, cfg.FHIR.withDefaults()...)
	errs = append(errs, cfg.Bounds.withDefaults()...)
	if err := cfg.AccessPolicy.check(cfg.Issuer.Audience); err != nil {
		errs = append(errs, err)
	}
	cfg.Hooks.withDefaults()
	errs = append(errs, indistinguishableBases(&cfg, all)...)
	errs = append(errs, opaqueIssuersPerBase(&cfg, all)...)
	errs = append(errs, checkResourceMetadata(&cfg, all)...)
	cfg.Issuer, cfg.Issuers = all[0], all
	if err := errors.Join(errs...); err != nil { // nil errors are left out
		return cfg, fmt.Errorf("middleware: invalid Config: %w", err)
	}
	return cfg, nil
}

// checkIssuers checks every issuer, all[0] being Config.Issuer, and sets
// the defaults of their claim names and introspection.
func checkIssuers(all []Issuer) []error {
	var errs []error
	seen := map[string]bool{}
	for i := range all {
		is := &all[i]
		who := "Issuer"
		if i > 0 {
			who = fmt.Sprintf("Issuers[%d]", i-1)
		}
		add := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf(who+format, args...))
		}
		errs = append(errs, is.Claims.check(who+".")...)
		is.Claims = is.Claims.withDefaults()
		if is.URL == "" {
			add(".URL is required")
			continue
		}
		if seen[is.URL] {
			add(": %q is configured twice", is.URL)
		}
		seen[is.URL] = true
		if err := jwks.CheckURL(is.URL); err != nil {
			add(".URL %q: %w", is.URL, err)
		}
		if is.JWKSURL != "" {
			if err := jwks.CheckURL(is.JWKSURL); err != nil {
				add(".JWKSURL %q: %w", is.JWKSURL, err)
			}
		}
		if is.Audience == "" {
			add(".Audience is required")
		}
		errs = append(errs, is.checkIntrospection()...)
		for _, a := range is.Audiences {
			if a == "" {
				// Never skip it: "" among the expected audiences would
				// match a token whose aud array holds "" beside any
				// other audience.
				add(".Audiences has an empty entry")
			}
		}
		for _, a := range append([]string{is.Audience}, is.Audiences...) {
			if a != "" {
				if err := checkAudience(a); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errs
}

// orDefault sets *v to def when it is zero, and reports a negative *v.
func orDefault[T int | int64 | time.Duration](name string, v *T, def T) error {
	switch {
	case *v < 0:
		return fmt.Errorf("%s %v is negative", name, *v)
	case *v == 0:
		*v = def
	}
	return nil
}

// withDefaults checks t and sets its defaults; keyfunc tells whether an
// issuer has a Keyfunc, which HMAC algorithms need.
func (t *TokenOptions) withDefaults(keyfunc bool) []error {
	var errs []error
	if len(t.Algorithms) == 0 {
		t.Algorithms = DefaultAlgorithms
	}
	t.Algorithms = slices.Clone(t.Algorithms)
	for _, a := range t.Algorithms {
		switch m := jwt.GetSigningMethod(a); {
		case m == nil || a == "none":
			errs = append(errs, fmt.Errorf("Tokens.Algorithms: %q is not supported", a))
		case strings.HasPrefix(a, "HS") && !keyfunc:
			errs = append(errs, fmt.Errorf("Tokens.Algorithms: %q needs a Keyfunc that returns the secret: keys from a JWKS are never symmetric", a))
		}
	}
	if t.Leeway == 0 {
		t.Leeway = DefaultLeeway
	}
	if t.Leeway < 0 || t.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("Tokens.Leeway %v is not within 0 and %v", t.Leeway, MaxLeeway))
	}
	if t.Now == nil {
		t.Now = time.Now
	}
	return errs
}

// withDefaults checks k and sets its defaults.
func (k *KeyOptions) withDefaults() []error {
	errs := []error{
		orDefault("Keys.RefreshInterval", &k.RefreshInterval, DefaultRefreshInterval),
		orDefault("Keys.UnknownKIDInterval", &k.UnknownKIDInterval, DefaultUnknownKIDInterval),
		orDefault("Keys.MaxStaleness", &k.MaxStaleness, DefaultMaxKeyStaleness),
	}
	if k.Wait < 0 {
		errs = append(errs, fmt.Errorf("Keys.Wait %v is negative", k.Wait))
	}
	return errs
}

// withDefaults checks c and sets its defaults.
func (c *CacheOptions) withDefaults() []error {
	return []error{
		orDefault("Cache.Size", &c.Size, DefaultCacheSize),
		orDefault("Cache.TTL", &c.TTL, DefaultCacheTTL),
	}
}

// withDefaults checks f and sets its defaults.
func (f *FHIROptions) withDefaults() []error {
	var errs []error
	if f.NonCompartment > NonCompartmentDeny {
		errs = append(errs, fmt.Errorf("FHIR.NonCompartment %d is not a NonCompartmentPolicy", f.NonCompartment))
	}
	if f.Operations == nil {
		f.Operations = DefaultOperations()
	}
	for key, op := range f.Operations {
		if err := checkOperation(key, op); err != nil {
			errs = append(errs, err)
		}
	}
	return append(errs, f.Export.withDefaults(f.Operations)...)
}

// withDefaults checks b and sets its defaults.
func (b *Bounds) withDefaults() []error {
	errs := []error{
		orDefault("Bounds.MaxTokenSize", &b.MaxTokenSize, DefaultMaxTokenSize),
		orDefault("Bounds.MaxBodyBytes", &b.MaxBodyBytes, DefaultMaxBodyBytes),
		orDefault("Bounds.MaxResponseBytes", &b.MaxResponseBytes, DefaultMaxResponseBytes),
		orDefault("Bounds.MaxBundleEntries", &b.MaxBundleEntries, DefaultMaxBundleEntries),
		orDefault("Bounds.MaxStoredReads", &b.MaxStoredReads, DefaultMaxStoredReads),
	}
	return append(errs, orDefault("Bounds.MaxStoredBytes", &b.MaxStoredBytes, b.MaxResponseBytes))
}

// withDefaults sets the defaults of h.
func (h *Hooks) withDefaults() {
	if h.Realm == "" {
		h.Realm = DefaultRealm
	}
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
}

// checkIntrospection checks is.Introspection and sets its defaults.
func (is *Issuer) checkIntrospection() []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("issuer %q: Introspection: "+format, append([]any{is.URL}, args...)...))
	}
	in := &is.Introspection
	switch is.Format {
	case TokensJWT:
		if in.Endpoint != "" || in.ClientID != "" || in.BearerToken != nil || in.Store != nil {
			add("set, but Tokens is TokensJWT: set Tokens to TokensIntrospect or TokensJWTOrIntrospect")
		}
		return errs
	case TokensIntrospect, TokensJWTOrIntrospect:
	default:
		errs = append(errs, fmt.Errorf("issuer %q: Tokens %d is not a TokenFormat", is.URL, is.Format))
		return errs
	}
	if in.Endpoint != "" {
		if err := jwks.CheckURL(in.Endpoint); err != nil {
			add("Endpoint %w", err)
		}
	}
	if in.Auth == IntrospectionAuto {
		switch {
		case in.ClientID != "":
			in.Auth = IntrospectionClientSecretBasic
		case in.BearerToken != nil:
			in.Auth = IntrospectionBearer
		default:
			in.Auth = IntrospectionNone
		}
	}
	switch in.Auth {
	case IntrospectionClientSecretBasic, IntrospectionClientSecretPost:
		if in.ClientID == "" || in.ClientSecret == "" {
			add("client_secret authentication needs ClientID and ClientSecret")
		}
	case IntrospectionBearer:
		if in.BearerToken == nil {
			add("IntrospectionBearer needs BearerToken")
		}
	case IntrospectionNone:
	default:
		add("Auth %d is not an IntrospectionAuth", in.Auth)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"CacheTTL", &in.CacheTTL, DefaultIntrospectionCacheTTL}, {"Timeout", &in.Timeout, DefaultIntrospectionTimeout},
		{"StoreTimeout", &in.StoreTimeout, DefaultIntrospectionStoreTimeout}} {
		switch {
		case *d.v < 0:
			add("%s %v is negative", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	return errs
}

// basePath is the path a FHIR base of issuer i is served under: Config.Base
// for the first audience of Config.Issuer, else the audience's own path.
func basePath(cfg *Config, i, j int, aud string) string {
	if i == 0 && j == 0 && cfg.Base != "" {
		return strings.TrimSuffix(cfg.Base, "/")
	}
	u, _ := url.Parse(aud)
	return strings.TrimSuffix(u.EscapedPath(), "/")
}

// opaqueIssuersPerBase refuses two issuers that introspect opaque tokens
// for one FHIR base: an opaque token names no issuer, so it could not be
// told which one to ask, and asking both would show one server's tokens
// to the other.
func opaqueIssuersPerBase(cfg *Config, all []Issuer) []error {
	type key struct{ host, path string }
	var errs []error
	seen := map[key]string{} // base → issuer
	for i, is := range all {
		if is.Format == TokensJWT || is.URL == "" {
			continue
		}
		for j, a := range append([]string{is.Audience}, is.Audiences...) {
			if a == "" || checkAudience(a) != nil {
				continue
			}
			host, path := baseAt(cfg, i, j, a)
			p := key{host, path}
			if other, ok := seen[p]; ok && other != is.URL {
				errs = append(errs, fmt.Errorf("issuers %q and %q both introspect opaque tokens for the base %q: an opaque token names no issuer", other, is.URL, a))
			}
			seen[p] = is.URL
		}
	}
	return errs
}

// checkAudience refuses an audience that cannot be a FHIR base URL as
// tokens carry it.
func checkAudience(a string) error {
	u, err := url.Parse(a)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.RawQuery != "" || u.User != nil:
		return fmt.Errorf("audience %q is not an absolute URL without query or fragment", a)
	case strings.HasSuffix(a, "/"):
		// Every token would fail: aud is compared exactly, and FHIR base
		// URLs, as authorization servers put them in aud, have no
		// trailing "/".
		return fmt.Errorf("audience %q ends with \"/\": give the FHIR base URL without it", a)
	}
	return nil
}

// checkOperation refuses an Operations entry that cannot match a request.
func checkOperation(key string, op Operation) error {
	parts := strings.Split(key, "/")
	name := parts[len(parts)-1]
	bad := func(why string) error { return fmt.Errorf("FHIR.Operations[%q]: %s", key, why) }
	if !validOperationName(name) {
		return bad(`the operation must be named "$name" (letters, digits, "-" and "_")`)
	}
	switch len(parts) {
	case 1:
	case 2, 3:
		if t := parts[0]; t != "*" && !scope.IsR4Type(t) {
			return bad(fmt.Sprintf("%q is not a FHIR R4 resource type", t))
		}
		if len(parts) == 3 && parts[1] != "[id]" {
			return bad(`an instance-level key is "Type/[id]/$name"`)
		}
	default:
		return bad(`keys are "$name", "Type/$name" or "Type/[id]/$name"`)
	}
	if op.Permission == 0 || op.Permission&^(scope.Create|scope.Read|scope.Update|scope.Delete|scope.Search) != 0 {
		return bad("Permission must hold one or more of the letters c r u d s")
	}
	return nil
}

func validOperationName(s string) bool {
	if len(s) < 2 || s[0] != '$' {
		return false
	}
	for _, c := range s[1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkOrigin refuses an AllowedOrigins entry that is not "*" or an
// origin (scheme://host[:port]).
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("AllowedOrigins: %q is not an origin (scheme://host[:port])", o)
	}
	return nil
}
