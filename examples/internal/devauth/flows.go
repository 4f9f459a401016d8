// Package devauth is the browser side of the demo's development
// authorization server: the authorization code grant with PKCE, the EHR
// and standalone launches, the user's decision on a consent page, and
// refresh tokens, signed by a testissuer.Issuer. It authenticates no one
// and accepts loopback redirect URIs only; nothing outside the demo may
// use it.
package devauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/testissuer"
	"github.com/smartguard/smartguard/scope"
)

// Defaults of the FlowsConfig lifetimes.
const (
	DefaultAccessTTL  = time.Hour
	DefaultRefreshTTL = 24 * time.Hour
	DefaultCodeTTL    = time.Minute
	DefaultRequestTTL = 10 * time.Minute
	DefaultLaunchTTL  = 10 * time.Minute
)

// maxPending bounds each of the in-memory tables (pending requests, codes,
// launches, refresh tokens) after expired entries are swept.
const maxPending = 10000

// Client is a registered public client: it authenticates with nothing but
// its client_id, so PKCE and the exact redirect URI are what protect its
// codes.
type Client struct {
	ID   string
	Name string // shown on the consent page; default ID
	// RedirectURIs are compared exactly with the redirect_uri of a request
	// (no prefix, no wildcard, no normalisation). Each must be an http or
	// https URL on a loopback host (127.0.0.1, ::1, localhost), without
	// a fragment.
	RedirectURIs []string
}

// Scopes are the scopes_supported that an issuer with Flows advertises:
// testissuer.Scopes, the EHR launch, the encounter context and refresh
// tokens.
var Scopes = []string{"openid", "fhirUser", "launch", "launch/patient", "launch/encounter", "offline_access",
	"patient/*.cruds", "user/*.cruds", "system/*.cruds"}

// FlowsConfig configures the browser flows of an issuer.
type FlowsConfig struct {
	// Audience is the FHIR base URL: an authorization request's "aud"
	// must equal it, and it is the "aud" of the access tokens. Required.
	Audience string
	// Clients are the registered public clients. At least one.
	Clients []Client
	// AccessTTL is the lifetime of access tokens and id tokens. Default
	// DefaultAccessTTL.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token, issued only when
	// offline_access is granted. Default DefaultRefreshTTL.
	RefreshTTL time.Duration
	// CodeTTL is the lifetime of an authorization code. Default
	// DefaultCodeTTL.
	CodeTTL time.Duration
	// RequestTTL is how long an authorization request waits for the
	// user's decision. Default DefaultRequestTTL.
	RequestTTL time.Duration
	// LaunchTTL is how long an EHR launch waits for the app's
	// authorization request. Default DefaultLaunchTTL.
	LaunchTTL time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Revoked is told of each access token the revocation endpoint
	// revokes (see RevocationHandler), as a real authorization server's
	// revocation events tell resource servers: the demo feeds it to its
	// Guard's revocation list. It must return nil only once the
	// resource server will refuse the token; an error makes the endpoint
	// answer 503. Default nil: access tokens, which are JWTs, cannot be
	// revoked (unsupported_token_type); refresh tokens still can.
	Revoked func(ctx context.Context, t RevokedToken) error
	// DPoP checks the DPoP proofs of token requests (see ProofChecker):
	// a request with a valid proof gets tokens bound to its key
	// (token_type DPoP, cnf.jkt in the access token; the refresh token
	// needs a proof of the same key). Default nil: a DPoP header is
	// refused, and tokens are bearer tokens.
	DPoP *ProofChecker
}

// Flows are the browser side of the development authorization server:
// the authorization code grant with PKCE (S256 only), the EHR launch
// (launch + iss) and the standalone launch, the user's decision on a
// consent page the caller renders, and refresh tokens for offline_access.
// State lives in memory. It is safe for concurrent use.
type Flows struct {
	iss *testissuer.Issuer
	cfg FlowsConfig

	mu       sync.Mutex
	requests map[string]*Request
	codes    map[string]*code
	launches map[string]*launchEntry
	refresh  map[string]*refreshToken
	// issued are the unexpired access tokens issued from a code or a
	// refresh token, by jti: revoking a refresh token revokes those of
	// its grant (RFC 7009 §2.1).
	issued map[string]issuedToken
}

// Launch is the context of an EHR launch: what the EHR had open when it
// launched the app.
type Launch struct {
	Patient   string // a Patient id, or ""
	Encounter string // an Encounter id, or ""
	// User is who is signed in to the EHR ("Practitioner/dr-lee"): the
	// user the consent page signs in as, or "" for the caller's default.
	User string
}

type launchEntry struct {
	Launch
	expires time.Time
}

// Request is an authorization request that passed every check and waits
// for the user's decision (Approve or Deny).
type Request struct {
	ID          string // the handle of the consent form: unguessable, single use
	Client      Client
	RedirectURI string
	State       string
	Nonce       string // OpenID Connect nonce, echoed in the id token
	Audience    string
	// Scopes are the requested scopes, in the order asked, each with
	// whether it can be granted.
	Scopes []RequestedScope
	// Launch is the EHR launch's context, nil in a standalone launch.
	Launch *Launch

	challenge string
	dpopJKT   string
	expires   time.Time
}

// RequestedScope is one scope of a Request.
type RequestedScope struct {
	Scope string
	// Grantable is false for a scope this server never grants; Note then
	// says why. It is left out of the token whatever the user decides.
	Grantable bool
	Note      string
}

// Standalone reports whether r is a standalone launch (no launch
// parameter).
func (r *Request) Standalone() bool { return r.Launch == nil }

// Asks reports whether r asks for the scope s and s can be granted.
func (r *Request) Asks(s string) bool {
	for _, rs := range r.Scopes {
		if rs.Scope == s {
			return rs.Grantable
		}
	}
	return false
}

// NeedsPatientPick reports whether approving r needs a patient chosen
// by the user: launch/patient asked without a patient from an EHR launch.
func (r *Request) NeedsPatientPick() bool {
	return r.Asks("launch/patient") && (r.Launch == nil || r.Launch.Patient == "")
}

// OffersEncounterPick reports whether the user may choose an encounter:
// launch/encounter asked in a standalone launch.
func (r *Request) OffersEncounterPick() bool {
	return r.Asks("launch/encounter") && r.Launch == nil
}

// Approval is the user's decision to let the app in.
type Approval struct {
	// Scopes are the scopes the user left ticked. Each must be a
	// grantable scope of the request; the token carries exactly these.
	Scopes []string
	// Patient is the patient the user picked. Required when the request
	// NeedsPatientPick and launch/patient is approved; otherwise it must
	// be empty or the EHR launch's patient. The caller checks that it
	// exists.
	Patient string
	// Encounter is the encounter the user picked, optional, only when the
	// request OffersEncounterPick and launch/encounter is approved. The
	// caller checks that it is the patient's.
	Encounter string
	// FHIRUser is the signed-in user, a reference such as
	// "Practitioner/123": the "sub" of the tokens and, with the fhirUser
	// scope, their "fhirUser" claim.
	FHIRUser string
}

// grant is what a code or a refresh token stands for.
type grant struct {
	client    string
	scopes    []string
	patient   string
	encounter string
	fhirUser  string
	nonce     string
	family    string // the code the grant came from: revoking it revokes all its refresh tokens
	// jkt is the thumbprint of the DPoP key the grant is bound to, ""
	// for none: the key of the proof the code was redeemed with. Its
	// refresh tokens need a proof of that key.
	jkt string
}

type code struct {
	grant
	redirectURI string
	challenge   string
	// dpopJKT is the authorization request's dpop_jkt (RFC 9449 §10):
	// the code is redeemed only with a proof of that key.
	dpopJKT string
	expires time.Time
	used    bool
}

type refreshToken struct {
	grant
	expires time.Time
	used    bool
	// revoked: revoked at the revocation endpoint, kept until it expires
	// so that the revocation can be asked again (see Revoke).
	revoked bool
}

// AuthError is an error of the authorization endpoint (RFC 6749 §4.1.2.1).
type AuthError struct {
	Code        string // such as "invalid_request", "invalid_scope", "access_denied"
	Description string
	// Redirect is where the browser must be sent: the client's redirect
	// URI with error, error_description and state. It is empty when the
	// client or its redirect URI could not be trusted; the error must
	// then be shown to the user and the browser must not be redirected.
	Redirect string
}

func (e *AuthError) Error() string { return "devauth: " + e.Code + ": " + e.Description }

// ErrNoRequest is the error of Approve and Deny for a request that is
// unknown, expired or already decided.
var ErrNoRequest = errors.New("devauth: no such authorization request (expired or already decided)")

// New attaches the browser flows to the issuer iss: its Metadata then
// advertises them, the refresh_token grant and Scopes. Attach them once.
func New(iss *testissuer.Issuer, cfg FlowsConfig) (*Flows, error) {
	if cfg.Audience == "" {
		return nil, errors.New("devauth: FlowsConfig.Audience is required")
	}
	if len(cfg.Clients) == 0 {
		return nil, errors.New("devauth: FlowsConfig.Clients: at least one client is required")
	}
	for _, c := range cfg.Clients {
		if c.ID == "" || len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("devauth: client %q: an id and at least one redirect URI are required", c.ID)
		}
		for _, u := range c.RedirectURIs {
			if err := loopbackURL(u); err != nil {
				return nil, fmt.Errorf("devauth: client %q: redirect URI %q: %w", c.ID, u, err)
			}
		}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.AccessTTL, DefaultAccessTTL}, {&cfg.RefreshTTL, DefaultRefreshTTL}, {&cfg.CodeTTL, DefaultCodeTTL},
		{&cfg.RequestTTL, DefaultRequestTTL}, {&cfg.LaunchTTL, DefaultLaunchTTL}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Flows{iss: iss, cfg: cfg, requests: map[string]*Request{}, codes: map[string]*code{},
		launches: map[string]*launchEntry{}, refresh: map[string]*refreshToken{}, issued: map[string]issuedToken{}}
	iss.Advertise(append(slices.Clone(testissuer.Grants), "refresh_token"), Scopes)
	iss.AdvertiseRevocation(RevocationPath)
	return f, nil
}

// loopbackURL accepts an absolute http(s) URL on a loopback host, without
// a fragment.
func loopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Fragment != "" || u.User != nil {
		return errors.New("must be an absolute http(s) URL without user info or fragment")
	}
	if !IsLoopbackHost(u.Hostname()) {
		return errors.New("must be on a loopback host (127.0.0.1, ::1, localhost): this server is for development only")
	}
	return nil
}

// IsLoopbackHost reports whether host (without port) is "localhost" or a
// loopback IP address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Audience returns the FHIR base URL of the flows.
func (f *Flows) Audience() string { return f.cfg.Audience }

// AccessTTL returns the lifetime of the access tokens.
func (f *Flows) AccessTTL() time.Duration { return f.cfg.AccessTTL }

// NewLaunch registers the context of an EHR launch and returns the opaque
// value of the launch parameter to send the app. It is single use and
// expires after LaunchTTL.
func (f *Flows) NewLaunch(l Launch) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep()
	if len(f.launches) >= maxPending {
		return "", errors.New("devauth: too many pending launches")
	}
	id := rand.Text()
	f.launches[id] = &launchEntry{Launch: l, expires: f.cfg.Now().Add(f.cfg.LaunchTTL)}
	return id, nil
}

// sweep drops expired entries; f.mu is held.
func (f *Flows) sweep() {
	now := f.cfg.Now()
	for k, v := range f.requests {
		if !now.Before(v.expires) {
			delete(f.requests, k)
		}
	}
	for k, v := range f.codes {
		if !now.Before(v.expires) {
			delete(f.codes, k)
		}
	}
	for k, v := range f.launches {
		if !now.Before(v.expires) {
			delete(f.launches, k)
		}
	}
	for k, v := range f.refresh {
		if !now.Before(v.expires) {
			delete(f.refresh, k)
		}
	}
	for k, v := range f.issued {
		if !now.Before(v.expires) {
			delete(f.issued, k)
		}
	}
}

// single returns the only value of parameter name, and false when it is
// repeated (RFC 6749 §3.1: parameters must not be included more than once).
func single(q url.Values, name string) (string, bool) {
	v := q[name]
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	}
	return "", false
}

// pkceChallenge is a BASE64URL(SHA256(verifier)) value: 43 characters.
func pkceChallengeOK(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// Authorize checks an authorization request (the query of a GET to the
// authorization endpoint: RFC 6749 §4.1.1, RFC 7636 with S256 only, and
// SMART's aud and launch) and keeps it pending for the user's decision.
// Its error is an *AuthError.
//
// The client and its redirect URI are checked first; until both are
// known the error is not to be sent to the redirect URI. After that, every
// error goes back to the client with the request's state.
func (f *Flows) Authorize(q url.Values) (*Request, error) {
	client, redirectURI, err := f.checkClient(q)
	if err != nil {
		return nil, err
	}
	state, _ := single(q, "state") // "" when repeated, which checkRequest refuses
	fail := func(code, desc string) (*Request, error) {
		return nil, &AuthError{Code: code, Description: desc, Redirect: errorRedirect(redirectURI, code, desc, state)}
	}
	if code, desc := f.checkRequest(q); code != "" {
		return fail(code, desc)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep()
	var launch *Launch
	if lv := q.Get("launch"); lv != "" {
		l, ok := f.launches[lv]
		if !ok {
			return fail("invalid_request", "launch is unknown or expired: launch the app again from the EHR")
		}
		delete(f.launches, lv) // single use
		launch = &l.Launch
	}
	req := &Request{ID: rand.Text(), Client: client, RedirectURI: redirectURI, State: state, Nonce: q.Get("nonce"),
		Audience: f.cfg.Audience, Launch: launch, challenge: q.Get("code_challenge"), dpopJKT: q.Get("dpop_jkt"),
		expires: f.cfg.Now().Add(f.cfg.RequestTTL)}
	if req.Client.Name == "" {
		req.Client.Name = req.Client.ID
	}
	req.Scopes = requestedScopes(strings.Fields(q.Get("scope")), launch != nil)
	if len(f.requests) >= maxPending {
		return fail("temporarily_unavailable", "too many pending authorization requests")
	}
	f.requests[req.ID] = req
	return req, nil
}

// checkClient checks client_id and redirect_uri, and returns the client
// and the redirect URI. Its errors have no Redirect: a redirect URI that
// is not registered for the client, exactly, could send the error, and
// the state with it, to an attacker (RFC 6749 §4.1.2.1: the server
// "MUST NOT automatically redirect the user-agent to the invalid
// redirection URI").
func (f *Flows) checkClient(q url.Values) (Client, string, error) {
	clientID, ok := single(q, "client_id")
	if !ok || clientID == "" {
		return Client{}, "", &AuthError{Code: "invalid_request", Description: "client_id is missing or repeated"}
	}
	i := slices.IndexFunc(f.cfg.Clients, func(c Client) bool { return c.ID == clientID })
	if i < 0 {
		return Client{}, "", &AuthError{Code: "unauthorized_client", Description: fmt.Sprintf("client_id %q is not registered here", clientID)}
	}
	client := f.cfg.Clients[i]
	redirectURI, ok := single(q, "redirect_uri")
	if !ok || redirectURI == "" {
		return Client{}, "", &AuthError{Code: "invalid_request", Description: "redirect_uri is missing or repeated"}
	}
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		return Client{}, "", &AuthError{Code: "invalid_request", Description: fmt.Sprintf(
			"redirect_uri %q is not registered for client %q (registered, compared exactly: %s)",
			redirectURI, clientID, strings.Join(client.RedirectURIs, ", "))}
	}
	return client, redirectURI, nil
}

// checkRequest checks the parameters of an authorization request other
// than the client, its redirect URI and the launch, in this order, and
// returns the error code and description of the first that fails, or ""
// when all pass.
func (f *Flows) checkRequest(q url.Values) (code, desc string) {
	for name := range q {
		if len(q[name]) > 1 {
			return "invalid_request", fmt.Sprintf("parameter %s is repeated", name)
		}
	}
	if q.Get("state") == "" {
		return "invalid_request", "state is required"
	}
	if rt := q.Get("response_type"); rt != "code" {
		return "unsupported_response_type", fmt.Sprintf("response_type %q: only \"code\" is supported", rt)
	}
	switch m := q.Get("code_challenge_method"); m {
	case "S256":
	case "", "plain":
		return "invalid_request", fmt.Sprintf("PKCE is required with code_challenge_method S256 (got %q; plain is refused)", m)
	default:
		return "invalid_request", fmt.Sprintf("code_challenge_method %q is not supported: only S256", m)
	}
	if !pkceChallengeOK(q.Get("code_challenge")) {
		return "invalid_request", "code_challenge must be BASE64URL(SHA256(code_verifier)), 43 characters"
	}
	if jkt := q.Get("dpop_jkt"); jkt != "" && (f.cfg.DPoP == nil || !pkceChallengeOK(jkt)) {
		return "invalid_request", "dpop_jkt must be the SHA-256 JWK thumbprint of a DPoP key (43 characters), and this server must accept DPoP"
	}
	if aud := q.Get("aud"); aud != f.cfg.Audience {
		return "invalid_request", fmt.Sprintf("aud %q is not the FHIR server this authorization server protects (%s)", aud, f.cfg.Audience)
	}
	if strings.TrimSpace(q.Get("scope")) == "" { // no field for strings.Fields
		return "invalid_scope", "scope is required"
	}
	return "", ""
}

// requestedScopes lists the scopes asked, each once, in the order first
// asked, with whether the code flow grants it.
func requestedScopes(asked []string, ehrLaunch bool) []RequestedScope {
	var out []RequestedScope
	seen := map[string]bool{}
	for _, s := range asked {
		if seen[s] {
			continue
		}
		seen[s] = true
		ok, note := grantable(s, ehrLaunch)
		out = append(out, RequestedScope{Scope: s, Grantable: ok, Note: note})
	}
	return out
}

// grantable says whether the authorization code flow grants scope s, and
// a note for the consent page.
func grantable(s string, ehrLaunch bool) (bool, string) {
	sc, err := scope.ParseScope(s)
	if err != nil {
		return false, "not a SMART scope"
	}
	switch sc.Kind {
	case scope.Resource:
		if sc.Context == scope.System {
			return false, "system/ scopes are for backend services (client_credentials), not for apps a user launches"
		}
		return true, describeResource(sc)
	case scope.Launch:
		switch sc.LaunchType {
		case "":
			if !ehrLaunch {
				return false, "launch is for EHR launches (with a launch parameter); this is a standalone launch"
			}
			return true, "the context the EHR launched the app in"
		case "patient":
			return true, "a patient in context"
		case "encounter":
			return true, "an encounter in context"
		}
		return false, "this server has no " + sc.LaunchType + " context"
	case scope.Identity:
		switch s {
		case "openid":
			return true, "an id token: who you are"
		case "fhirUser":
			return true, "your FHIR user resource, in the id token"
		}
		return false, "this server does not issue " + s
	case scope.Refresh:
		if s == "offline_access" {
			return true, "a refresh token: the app keeps access after the access token expires"
		}
		return false, "online_access is not supported (offline_access is)"
	}
	return false, "an extension scope this server does not know"
}

// describeResource says in words what a resource scope grants.
func describeResource(sc scope.Scope) string {
	var verbs []string
	for _, p := range []struct {
		bit  scope.Permission
		word string
	}{{scope.Create, "create"}, {scope.Read, "read"}, {scope.Update, "update"}, {scope.Delete, "delete"}, {scope.Search, "search"}} {
		if sc.Permissions&p.bit != 0 {
			verbs = append(verbs, p.word)
		}
	}
	what := sc.Type + " resources"
	if sc.Type == "*" {
		what = "resources of every type"
	}
	whose := "of the patient in context"
	if sc.Context == scope.User {
		whose = "that you may access"
	}
	list := "no access to"
	if n := len(verbs); n == 1 {
		list = verbs[0]
	} else if n > 1 {
		list = strings.Join(verbs[:n-1], ", ") + " and " + verbs[n-1]
	}
	d := list + " " + what + " " + whose
	for _, p := range sc.Constraint {
		d += fmt.Sprintf(", only where %s = %s", p.Name, p.Value)
	}
	return d
}

// errorRedirect is redirectURI with an error response (RFC 6749 §4.1.2.1).
func errorRedirect(redirectURI, code, desc, state string) string {
	v := url.Values{"error": {code}, "error_description": {desc}}
	if state != "" {
		v.Set("state", state)
	}
	return addQuery(redirectURI, v)
}

func addQuery(u string, v url.Values) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + v.Encode()
}

// Pending returns the pending request id, if it is still waiting.
func (f *Flows) Pending(id string) (*Request, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.requests[id]
	if !ok || !f.cfg.Now().Before(r.expires) {
		return nil, false
	}
	return r, true
}

// Deny ends the pending request id with access_denied and returns where
// to send the browser.
func (f *Flows) Deny(id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.requests[id]
	if !ok || !f.cfg.Now().Before(r.expires) {
		return "", ErrNoRequest
	}
	delete(f.requests, id)
	return errorRedirect(r.RedirectURI, "access_denied", "the user denied the request", r.State), nil
}

// Approve ends the pending request id with an authorization code for
// what the user approved and returns where to send the browser: the
// redirect URI with code and state. An approval that does not fit the
// request is an error and leaves the request pending; an unknown or
// decided request is ErrNoRequest.
func (f *Flows) Approve(id string, a Approval) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.requests[id]
	if !ok || !f.cfg.Now().Before(r.expires) {
		return "", ErrNoRequest
	}
	g := grant{client: r.Client.ID, fhirUser: a.FHIRUser, nonce: r.Nonce}
	for _, rs := range r.Scopes { // the request's order, each once
		if slices.Contains(a.Scopes, rs.Scope) {
			if !rs.Grantable {
				return "", fmt.Errorf("devauth: scope %q cannot be granted: %s", rs.Scope, rs.Note)
			}
			g.scopes = append(g.scopes, rs.Scope)
		}
	}
	for _, s := range a.Scopes {
		if !slices.ContainsFunc(r.Scopes, func(rs RequestedScope) bool { return rs.Scope == s }) {
			return "", fmt.Errorf("devauth: scope %q was not requested", s)
		}
	}
	approved := func(s string) bool { return slices.Contains(g.scopes, s) }
	ehrContext := r.Launch != nil && approved("launch")
	switch {
	case r.Launch != nil && r.Launch.Patient != "":
		if a.Patient != "" && a.Patient != r.Launch.Patient {
			return "", errors.New("devauth: the patient of an EHR launch is the EHR's")
		}
		if ehrContext || approved("launch/patient") {
			g.patient = r.Launch.Patient
		}
	case approved("launch/patient"):
		if a.Patient == "" {
			return "", errors.New("devauth: pick a patient (launch/patient is approved)")
		}
		g.patient = a.Patient
	case a.Patient != "":
		return "", errors.New("devauth: a patient was picked, but launch/patient is not approved")
	}
	switch {
	case r.Launch != nil && r.Launch.Encounter != "":
		if a.Encounter != "" && a.Encounter != r.Launch.Encounter {
			return "", errors.New("devauth: the encounter of an EHR launch is the EHR's")
		}
		if ehrContext || approved("launch/encounter") {
			g.encounter = r.Launch.Encounter
		}
	case a.Encounter == "":
	case r.Launch != nil || !approved("launch/encounter"):
		return "", errors.New("devauth: an encounter may be picked only with launch/encounter approved, in a standalone launch")
	case g.patient == "":
		return "", errors.New("devauth: an encounter needs a patient")
	default:
		g.encounter = a.Encounter
	}
	f.sweep()
	if len(f.codes) >= maxPending {
		return "", errors.New("devauth: too many pending codes")
	}
	delete(f.requests, id)
	c := rand.Text()
	g.family = c
	f.codes[c] = &code{grant: g, redirectURI: r.RedirectURI, challenge: r.challenge, dpopJKT: r.dpopJKT, expires: f.cfg.Now().Add(f.cfg.CodeTTL)}
	return addQuery(r.RedirectURI, url.Values{"code": {c}, "state": {r.State}}), nil
}

// TokenError is an error response of the token endpoint (RFC 6749 §5.2).
type TokenError struct {
	Status      int
	Code        string
	Description string
}

func (e *TokenError) Error() string { return "devauth: " + e.Code + ": " + e.Description }

func badRequest(code, desc string) *TokenError {
	return &TokenError{Status: 400, Code: code, Description: desc}
}

// Token answers a token request of grant type authorization_code or
// refresh_token (the parsed form body) without a DPoP proof: the token
// response as a JSON object, or a *TokenError.
func (f *Flows) Token(form url.Values) (map[string]any, error) {
	return f.TokenBound(form, "")
}

// TokenBound is Token for a request whose DPoP proof (checked by a
// ProofChecker) has a key of thumbprint jkt, "" for a request without a
// proof: the access token is bound to that key (cnf.jkt, token_type
// DPoP), and so are the refresh tokens of a grant redeemed with a proof.
func (f *Flows) TokenBound(form url.Values, jkt string) (map[string]any, error) {
	for name := range form {
		if len(form[name]) > 1 {
			return nil, badRequest("invalid_request", fmt.Sprintf("parameter %s is repeated", name))
		}
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		return f.exchange(form, jkt)
	case "refresh_token":
		return f.refreshGrant(form, jkt)
	}
	return nil, badRequest("unsupported_grant_type", "grant_type must be authorization_code or refresh_token here")
}

// exchange redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6).
// A code is consumed by its first redemption, good or bad; redeeming it
// again revokes the refresh tokens issued from it (RFC 6749 §4.1.2).
func (f *Flows) exchange(form url.Values, jkt string) (map[string]any, error) {
	cv, verifier, clientID, redirectURI := form.Get("code"), form.Get("code_verifier"), form.Get("client_id"), form.Get("redirect_uri")
	if cv == "" || clientID == "" || redirectURI == "" {
		return nil, badRequest("invalid_request", "code, client_id and redirect_uri are required")
	}
	if verifier == "" {
		return nil, badRequest("invalid_request", "code_verifier is required (PKCE)")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep()
	c, ok := f.codes[cv]
	if !ok {
		return nil, badRequest("invalid_grant", "the code is unknown or expired")
	}
	if c.used {
		f.revokeFamily(c.family)
		return nil, badRequest("invalid_grant", "the code was already used; the tokens issued from it are revoked")
	}
	c.used = true
	if clientID != c.client {
		return nil, badRequest("invalid_grant", "the code was issued to another client")
	}
	if redirectURI != c.redirectURI {
		return nil, badRequest("invalid_grant", "redirect_uri differs from the authorization request's")
	}
	if !verifierOK(verifier) {
		return nil, badRequest("invalid_grant", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.challenge)) != 1 {
		return nil, badRequest("invalid_grant", "code_verifier does not match the code_challenge (PKCE S256)")
	}
	if c.dpopJKT != "" && subtle.ConstantTimeCompare([]byte(jkt), []byte(c.dpopJKT)) != 1 {
		return nil, badRequest("invalid_grant", "the code is bound to a DPoP key (dpop_jkt): send a DPoP proof of that key")
	}
	g := c.grant
	g.jkt = jkt
	return f.issue(g, true)
}

func verifierOK(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// refreshGrant redeems a refresh token (RFC 6749 §6). Refresh tokens
// rotate: each is used once, and using one again revokes every refresh
// token of its grant.
func (f *Flows) refreshGrant(form url.Values, jkt string) (map[string]any, error) {
	rt, clientID := form.Get("refresh_token"), form.Get("client_id")
	if rt == "" || clientID == "" {
		return nil, badRequest("invalid_request", "refresh_token and client_id are required")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep()
	t, ok := f.refresh[rt]
	if !ok || t.revoked {
		return nil, badRequest("invalid_grant", "the refresh token is unknown, expired or revoked")
	}
	if t.used {
		f.revokeFamily(t.family)
		return nil, badRequest("invalid_grant", "the refresh token was already used; every refresh token of this grant is revoked")
	}
	if clientID != t.client {
		return nil, badRequest("invalid_grant", "the refresh token was issued to another client")
	}
	if t.jkt != "" && subtle.ConstantTimeCompare([]byte(jkt), []byte(t.jkt)) != 1 {
		// RFC 9449 §5: a public client's refresh token is bound to its key.
		return nil, badRequest("invalid_grant", "the refresh token is bound to a DPoP key: send a DPoP proof of that key")
	}
	g := t.grant
	g.jkt = jkt // the new access token is bound to the proof's key, if any
	if s := form.Get("scope"); s != "" {
		var narrower []string
		for _, x := range strings.Fields(s) {
			if !slices.Contains(t.scopes, x) {
				return nil, badRequest("invalid_scope", fmt.Sprintf("scope %q was not granted", x))
			}
			if !slices.Contains(narrower, x) {
				narrower = append(narrower, x)
			}
		}
		g.scopes = narrower
	}
	t.used = true
	return f.issue(g, false)
}

// revokeFamily drops every refresh token issued from one code; f.mu is
// held.
func (f *Flows) revokeFamily(family string) {
	for k, v := range f.refresh {
		if v.family == family {
			delete(f.refresh, k)
		}
	}
}

// issue signs the tokens of g; f.mu is held.
func (f *Flows) issue(g grant, withIDToken bool) (map[string]any, error) {
	now := f.cfg.Now()
	has := func(s string) bool { return slices.Contains(g.scopes, s) }
	sub := g.fhirUser
	if sub == "" {
		sub = "dev-user"
	}
	sc := strings.Join(g.scopes, " ")
	if len(f.issued) >= maxPending {
		return nil, &TokenError{Status: 503, Code: "temporarily_unavailable", Description: "too many access tokens"}
	}
	jti, exp := rand.Text(), now.Add(f.cfg.AccessTTL)
	claims := jwt.MapClaims{
		"iss": f.iss.URL(), "aud": f.cfg.Audience, "sub": sub, "client_id": g.client,
		"iat": now.Unix(), "exp": exp.Unix(), "jti": jti, "scope": sc,
	}
	resp := map[string]any{"token_type": "Bearer", "expires_in": int(f.cfg.AccessTTL / time.Second), "scope": sc}
	if g.jkt != "" {
		claims["cnf"], resp["token_type"] = map[string]any{"jkt": g.jkt}, "DPoP"
	}
	if g.patient != "" {
		claims["patient"], resp["patient"] = g.patient, g.patient
	}
	if g.encounter != "" {
		claims["encounter"], resp["encounter"] = g.encounter, g.encounter
	}
	if has("fhirUser") && g.fhirUser != "" {
		claims["fhirUser"] = g.fhirUser
	}
	at, err := f.iss.Sign(claims, nil)
	if err != nil {
		return nil, &TokenError{Status: 500, Code: "server_error", Description: "could not sign the access token"}
	}
	resp["access_token"] = at
	f.issued[jti] = issuedToken{family: g.family, expires: exp}
	if withIDToken && has("openid") {
		idc := jwt.MapClaims{"iss": f.iss.URL(), "aud": g.client, "sub": sub,
			"iat": now.Unix(), "exp": now.Add(f.cfg.AccessTTL).Unix()}
		if g.nonce != "" {
			idc["nonce"] = g.nonce
		}
		if has("fhirUser") && g.fhirUser != "" {
			idc["fhirUser"] = g.fhirUser
		}
		id, err := f.iss.Sign(idc, map[string]any{"typ": "JWT"})
		if err != nil {
			return nil, &TokenError{Status: 500, Code: "server_error", Description: "could not sign the id token"}
		}
		resp["id_token"] = id
	}
	if has("offline_access") {
		if len(f.refresh) >= maxPending {
			return nil, &TokenError{Status: 503, Code: "temporarily_unavailable", Description: "too many refresh tokens"}
		}
		rt := rand.Text()
		f.refresh[rt] = &refreshToken{grant: g, expires: now.Add(f.cfg.RefreshTTL)}
		resp["refresh_token"] = rt
	}
	return resp, nil
}

// TokenHandler serves the token endpoint: grant types authorization_code
// and refresh_token here, any other grant type by next (which finds the
// form parsed, and the key of a valid DPoP proof in BoundKey). Public
// clients only: no client authentication. A DPoP header is checked
// first, for every grant type, by FlowsConfig.DPoP (refused without it).
func (f *Flows) TokenHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			writeTokenJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "the body must be application/x-www-form-urlencoded"})
			return
		}
		var jkt string
		var err error
		switch {
		case f.cfg.DPoP != nil:
			jkt, err = f.cfg.DPoP.Check(r)
		case len(r.Header.Values("DPoP")) > 0:
			err = invalidProof("this server does not bind tokens to DPoP keys")
		}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code", "refresh_token":
		default:
			if err == nil {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), boundKeyKey{}, jkt)))
				return
			}
		}
		var resp map[string]any
		if err == nil {
			resp, err = f.TokenBound(r.PostForm, jkt)
		}
		var te *TokenError
		if errors.As(err, &te) {
			writeTokenJSON(w, te.Status, map[string]any{"error": te.Code, "error_description": te.Description})
			return
		}
		writeTokenJSON(w, 200, resp)
	})
}

type boundKeyKey struct{}

// BoundKey returns the thumbprint of the DPoP key of a token request that
// TokenHandler passed on: the key its tokens are to be bound to (cnf.jkt,
// token_type DPoP), "" when the request carried no proof.
func BoundKey(ctx context.Context) string {
	jkt, _ := ctx.Value(boundKeyKey{}).(string)
	return jkt
}

func writeTokenJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
