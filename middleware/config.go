package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/jwks"
)

// Defaults of the Config fields whose zero value means "the default".
const (
	// DefaultLeeway is the default Config.Leeway.
	DefaultLeeway = 30 * time.Second
	// DefaultRealm is the default Config.Realm.
	DefaultRealm = "fhir"
	// DefaultRefreshInterval is the default Config.RefreshInterval.
	DefaultRefreshInterval = time.Hour
	// DefaultUnknownKIDInterval is the default Config.UnknownKIDInterval.
	DefaultUnknownKIDInterval = 5 * time.Minute
	// DefaultMaxTokenSize is the default Config.MaxTokenSize.
	DefaultMaxTokenSize = 16 << 10
	// DefaultCacheSize is the default Config.CacheSize.
	DefaultCacheSize = 10000
	// DefaultCacheTTL is the default Config.CacheTTL.
	DefaultCacheTTL = 5 * time.Minute
	// DefaultHTTPTimeout is the timeout of the default Config.HTTPClient.
	DefaultHTTPTimeout = 10 * time.Second
)

// MaxLeeway is the largest Leeway New accepts.
const MaxLeeway = 5 * time.Minute

// DefaultAlgorithms are the JWS algorithms accepted when
// Config.Algorithms is empty: RSA PKCS#1 v1.5, RSA-PSS, ECDSA and EdDSA.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Config configures the middleware. Issuer and Audience are required;
// every other field may be left zero, which selects the documented
// default, and the defaults are the strict choices. Fields that weaken a
// check are named Insecure… or Skip….
type Config struct {
	// Issuer is the identifier of the trusted authorization server,
	// compared exactly with the "iss" claim (RFC 9068 §4). It must be an
	// https URL; http is allowed for loopback hosts (127.0.0.1, ::1,
	// localhost). Required.
	Issuer string

	// Audience is this FHIR server's base URL, such as
	// "https://fhir.example.org/r4". A token's "aud" (a string or an
	// array) must contain it, or one of Audiences, exactly. Required.
	Audience string

	// Audiences are further base URLs this server answers for, accepted
	// as "aud" like Audience.
	Audiences []string

	// JWKSURL is where the Issuer's public keys are. When empty it is
	// discovered from the issuer's /.well-known/openid-configuration,
	// then /.well-known/oauth-authorization-server (RFC 8414); the
	// document must name the same issuer, or New fails. Same URL rules as
	// Issuer.
	JWKSURL string

	// Keyfunc, when set, replaces discovery and the JWKS: it returns the
	// key (or a jwt.VerificationKeySet) for a token whose header has
	// already been checked. The returned keys must be the Issuer's.
	// Header, algorithm and claim checks still apply.
	Keyfunc jwt.Keyfunc

	// Issuers are further trusted authorization servers (multi-tenant).
	// A token is matched to one by its "iss" and then verified with that
	// issuer's keys only, against that issuer's audiences only.
	Issuers []Issuer

	// HTTPClient fetches discovery documents and JWKS. Default: a client
	// with a 10 s timeout (never http.DefaultClient). Bodies are cut at
	// 1 MiB and redirects must stay on https (or loopback http).
	HTTPClient *http.Client

	// RefreshInterval is how often each JWKS is fetched again. Default
	// 1 h. Keys are kept when a refresh fails. Background refresh stops
	// when the context given to New is done.
	RefreshInterval time.Duration

	// UnknownKIDInterval is the least time between two fetches of a JWKS
	// caused by tokens whose "kid" is unknown (key rotation). Default
	// 5 min.
	UnknownKIDInterval time.Duration

	// Algorithms is the allow-list of JWS "alg" values. Default
	// DefaultAlgorithms. "none" is refused by New; HMAC algorithms
	// (HS256, ...) can only work with a Keyfunc that returns secrets, as
	// keys from a JWKS are never symmetric.
	Algorithms []string

	// Leeway is the clock skew allowed on "exp", "nbf" and "iat".
	// Default 30 s; at most MaxLeeway.
	Leeway time.Duration

	// Now returns the current time. Default time.Now.
	Now func() time.Time

	// RequireATJWT accepts only tokens whose "typ" header is "at+jwt" or
	// "application/at+jwt" (any case), as RFC 9068 §4 asks. By default
	// "JWT" and an absent "typ" are accepted too, as most authorization
	// servers issue them. Any other "typ" is always rejected. It also
	// requires the claims RFC 9068 §2.2 makes mandatory beyond iss, aud and
	// exp: "sub", "client_id" (by the names of Claims.ClientID), "iat" and
	// "jti".
	RequireATJWT bool

	// Claims names the claims the SMART values are read from. Each zero
	// field takes its default; see ClaimNames.
	Claims ClaimNames

	// MaxTokenSize bounds the length of an accepted token in bytes.
	// Default 16 KiB.
	MaxTokenSize int

	// FormBodyToken also accepts the token as the "access_token"
	// parameter of an application/x-www-form-urlencoded body (RFC 6750
	// §2.2), never on GET or HEAD. The body is read (up to 1 MiB) and put
	// back for the next handler, access_token included. Default: only the
	// Authorization header is read.
	FormBodyToken bool

	// Cache of verified tokens, keyed by the SHA-256 of the token: a token
	// seen again skips signature verification. An entry lives until the
	// token's "exp" or CacheTTL, whichever is first, and "exp" is checked
	// again on every hit. Failures are never cached. An entry costs about
	// 2.9 KiB for a typical SMART token (measured: a 0.9 KiB RS256 token
	// with 10 scopes and a patient; the grant holds the parsed scopes and
	// every claim), so the default size bounds the cache near 30 MiB.
	//
	// CacheSize is the largest number of entries. Default 10000.
	CacheSize int
	// CacheTTL is the longest an entry lives. Default 5 min: a key removed
	// from the JWKS keeps its cached tokens valid that long at most.
	CacheTTL time.Duration
	// DisableCache verifies every token every time.
	DisableCache bool

	// ErrorHandler answers refused requests. Default: DefaultErrorHandler
	// with Realm (RFC 6750 challenge and a FHIR OperationOutcome).
	ErrorHandler ErrorHandler

	// Realm is the realm of the WWW-Authenticate challenge. Default "fhir".
	Realm string

	// Logger receives background errors only (a JWKS refresh that
	// failed). Tokens are never logged. Default slog.Default().
	Logger *slog.Logger
}

// Issuer is one more trusted authorization server, with its own keys and
// audiences; see Config.Issuers. Its fields mean what the Config fields of
// the same names mean.
type Issuer struct {
	Issuer    string      // the "iss" of its tokens; required
	Audience  string      // a FHIR base URL its tokens are for; required
	Audiences []string    // further FHIR base URLs its tokens may be for
	JWKSURL   string      // its keys; discovered when empty
	Keyfunc   jwt.Keyfunc // replaces its JWKS
}

// ClaimNames are the token claims the SMART values are read from. Each
// field lists names tried in order, the first claim present being used;
// an empty field takes the default shown. For example, for an
// authorization server that sends the patient as "patient_id":
//
//	Claims: smartmw.ClaimNames{Patient: []string{"patient", "patient_id"}}
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
// an error for a field that cannot work.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("Issuer is required"))
	}
	if cfg.Audience == "" {
		errs = append(errs, errors.New("Audience is required"))
	}
	all := append([]Issuer{{Issuer: cfg.Issuer, Audience: cfg.Audience, Audiences: cfg.Audiences, JWKSURL: cfg.JWKSURL, Keyfunc: cfg.Keyfunc}}, cfg.Issuers...)
	seen := map[string]bool{}
	for _, is := range all {
		if is.Issuer == "" {
			if len(errs) == 0 {
				errs = append(errs, errors.New("an entry of Issuers has no Issuer"))
			}
			continue
		}
		if seen[is.Issuer] {
			errs = append(errs, fmt.Errorf("issuer %q is configured twice", is.Issuer))
		}
		seen[is.Issuer] = true
		if err := jwks.CheckURL(is.Issuer); err != nil {
			errs = append(errs, fmt.Errorf("Issuer: %w", err))
		}
		if is.JWKSURL != "" {
			if err := jwks.CheckURL(is.JWKSURL); err != nil {
				errs = append(errs, fmt.Errorf("JWKSURL: %w", err))
			}
		}
		if is.Audience == "" && len(errs) == 0 {
			errs = append(errs, fmt.Errorf("issuer %q has no Audience", is.Issuer))
		}
		for _, a := range is.Audiences {
			if a == "" {
				// Never skip it: "" among the expected audiences would
				// match a token whose aud array holds "" beside any
				// other audience.
				errs = append(errs, fmt.Errorf("issuer %q has an empty entry in Audiences", is.Issuer))
			}
		}
		for _, a := range append([]string{is.Audience}, is.Audiences...) {
			if a == "" {
				continue // reported above
			}
			if u, err := url.Parse(a); err != nil || !u.IsAbs() || u.Fragment != "" {
				errs = append(errs, fmt.Errorf("audience %q is not an absolute URI without fragment", a))
			}
		}
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	for _, a := range cfg.Algorithms {
		if m := jwt.GetSigningMethod(a); m == nil || a == "none" {
			errs = append(errs, fmt.Errorf("algorithm %q is not supported", a))
		}
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("Leeway %v is not within 0 and %v", cfg.Leeway, MaxLeeway))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.UnknownKIDInterval <= 0 {
		cfg.UnknownKIDInterval = DefaultUnknownKIDInterval
	}
	if cfg.MaxTokenSize <= 0 {
		cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Claims = cfg.Claims.withDefaults()
	cfg.Issuers = all
	if len(errs) > 0 {
		return cfg, fmt.Errorf("middleware: invalid Config: %w", errors.Join(errs...))
	}
	return cfg, nil
}
