package middleware

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

// errClaim is the cause of every SMART claim the token gets wrong.
var errClaim = errors.New("invalid SMART claim")

// errNoAudience refuses a token without "aud", or with an empty one.
var errNoAudience = fmt.Errorf("%w: the token has no audience (aud)", errClaim)

// claims holds a token's decoded claims (the registered ones are read by
// jwt.MapClaims' methods) and, as a jwt.ClaimsValidator, checks the SMART
// claims and maps them to out.
//
// A JWT's claims are decoded by claimsDecoder, an introspection answer's
// by encoding/json, alike: a name repeated in the JSON object takes its
// last value, and invalid UTF-8 becomes U+FFFD, which Validate refuses
// (RFC 8725 §3.7). The iss used to choose the keys is read from the same
// map, so every check sees the same claims.
type claims struct {
	jwt.MapClaims
	names   *ClaimNames
	strict  bool // RFC 9068 §2.2: sub, client_id, iat and jti required
	slashes bool // read %2F as "/" before the "?" of each scope
	dpop    bool // the issuer accepts DPoP-bound tokens: cnf.jkt allowed
	// deferScopes leaves the scope claim to readScopes: a JWT's scopes,
	// which a forger may make long, are parsed only once its signature
	// verified.
	deferScopes bool
	// For an introspection answer, which need not name them: the issuer
	// asked, and the audience to assume when "aud" is absent (nil:
	// "aud" is required).
	issuer     string
	defaultAud []string
	// auds are the issuer's configured audiences: the FHIR bases served
	// here that its tokens may be for.
	auds []string
	out  smartctx.Claims
	// decoded: the claims are a JWT's, decoded by claimsDecoder, which
	// noted whether a name or string holds U+FFFD (replaced); others
	// are walked for it.
	decoded, replaced bool
}

var _ jwt.ClaimsValidator = (*claims)(nil)

// Validate checks the claims the jwt package does not and fills c.out.
// For a JWT it runs, through jwt.Validator, before the key is looked up
// (see Guard.verify); for an introspection answer, after the answer said
// the token is active.
//
// A token without usable UTF-8, exp or audience, or bound to a key, is
// refused at once; past that, every claim is read and every problem
// reported, joined in the order the claims are read.
func (c *claims) Validate() error {
	m := c.MapClaims
	exp, err := c.precheck()
	if err != nil {
		return err
	}
	aud, err := c.audience()
	if err != nil {
		return err
	}
	r := claimReader{m: m}
	out := c.readStrings(&r)
	out.Audience, out.ExpiresAt, out.Raw = aud, exp.Time, m
	if c.strict {
		r.requireRFC9068(out)
	}
	c.checkLaunchContext(&r, &out, c.bases(aud))
	if !c.deferScopes {
		if err := c.readScopes(&out); err != nil {
			r.errs = append(r.errs, err)
		}
	}
	if v, ok := first(m, c.names.FHIRContext); ok {
		items, err := fhirContext(v)
		if err != nil {
			r.errs = append(r.errs, err)
		}
		out.FHIRContext = items
	}
	c.out = out
	return errors.Join(r.errs...)
}

// precheck refuses the claims that make the token unusable whatever else
// it holds, and returns its expiry: claims that are not UTF-8, a cnf
// binding other than a DPoP one where c.dpop allows it, and no exp, which
// jwt/v5 treats as optional: a bearer token without one would be good
// forever.
func (c *claims) precheck() (*jwt.NumericDate, error) {
	m := c.MapClaims
	if c.replaced || !c.decoded && replaced(map[string]any(m)) { // UTF-8 only: RFC 8725 §3.7
		return nil, fmt.Errorf("%w: claims are not UTF-8", errClaim)
	}
	if cnf, ok := m["cnf"]; ok {
		if !c.dpop {
			// A sender-constrained (DPoP or mTLS) token presented as a
			// bearer token: its holder's proof is not checked here (RFC
			// 9449 §7.2).
			return nil, fmt.Errorf("%w: cnf-bound token presented as Bearer", errClaim)
		}
		if err := checkCNF(cnf); err != nil { // its proof: see checkDPoP
			return nil, err
		}
	}
	exp, err := m.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, fmt.Errorf("%w: exp", errClaim)
	}
	return exp, nil
}

// audience returns the token's audience: "aud", or for an introspection
// answer without "aud" the audience assumed (c.defaultAud). It refuses an
// absent or empty audience, and one with an empty member: a token must
// name whom it is meant for, and "" names no one.
func (c *claims) audience() ([]string, error) {
	aud, err := c.MapClaims.GetAudience()
	if _, ok := c.MapClaims["aud"]; !ok && c.defaultAud != nil {
		aud, err = c.defaultAud, nil
	}
	if err != nil || len(aud) == 0 || slices.Contains(aud, "") {
		// jwt's validator would say "invalid audience"; say what is wrong.
		return nil, errNoAudience
	}
	return aud, nil
}

// claimReader reads claims of m and collects, rather than returns, the
// errors of those that have the wrong JSON type, so that Validate reports
// every bad claim at once.
type claimReader struct {
	m    jwt.MapClaims
	errs []error
}

// str returns the first of names present in r.m as a string, "" when none
// is present. A claim present but not a string is reported, under what,
// and read as "".
func (r *claimReader) str(names []string, what string) string {
	v, ok := first(r.m, names)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("%w: %s is not a string", errClaim, what))
	}
	return s
}

// readStrings reads the string claims, each under the names configured
// for it (c.names), into a smartctx.Claims. An introspection answer need
// not name its issuer: then the issuer asked (c.issuer) stands for it.
func (c *claims) readStrings(r *claimReader) smartctx.Claims {
	return smartctx.Claims{
		Issuer:        cmp.Or(r.str([]string{"iss"}, "iss"), c.issuer),
		Subject:       r.str([]string{"sub"}, "sub"),
		ClientID:      r.str(c.names.ClientID, "client_id"),
		Patient:       r.str(c.names.Patient, "patient"),
		Encounter:     r.str(c.names.Encounter, "encounter"),
		FHIRUser:      r.str(c.names.FHIRUser, "fhirUser"),
		Tenant:        r.str(c.names.Tenant, "tenant"),
		Intent:        r.str(c.names.Intent, "intent"),
		SmartStyleURL: r.str(c.names.SmartStyleURL, "smart_style_url"),
	}
}

// requireRFC9068 reports the claims RFC 9068 §2.2 requires of a JWT access
// token and out lacks: sub, client_id, jti and iat (Config.Tokens.RequireATJWT).
func (r *claimReader) requireRFC9068(out smartctx.Claims) {
	// The || stops at the first claim missing: jti is read, and a jti
	// that is not a string reported, only when sub and client_id are
	// there. Either way one error names all three.
	if out.Subject == "" || out.ClientID == "" || r.str([]string{"jti"}, "jti") == "" {
		r.errs = append(r.errs, fmt.Errorf("%w: RFC 9068 requires sub, client_id and jti", errClaim))
	}
	if iat, err := r.m.GetIssuedAt(); err != nil || iat == nil {
		r.errs = append(r.errs, fmt.Errorf("%w: RFC 9068 requires iat", errClaim))
	}
}

// bases returns the FHIR bases served here that a token with audience aud
// is for: those of the issuer's configured audiences that aud names.
func (c *claims) bases(aud []string) []string {
	var bs []string
	for _, a := range c.auds {
		if slices.Contains(aud, a) && !slices.Contains(bs, a) {
			bs = append(bs, a)
		}
	}
	return bs
}

// launchError is what is wrong with a launch context claim. Its text is
// told to the client (error_description): fixed words, never the claim's
// value.
type launchError string

func (e launchError) Error() string { return string(e) }

// checkLaunchContext checks the SMART launch context in out: patient and
// encounter are read as ids (see contextID) of resources on bases, the
// FHIR bases the token is for; fhirUser is a reference to a user resource
// (on any server: see smartctx.Grant.LocalFHIRUser), and
// need_patient_banner (read here into out) a boolean. The ids end up in
// FHIR paths and compartment checks, so a claim that is present must be
// valid: present but empty or not a string, it is refused rather than
// read as no context at all.
func (c *claims) checkLaunchContext(r *claimReader, out *smartctx.Claims, bases []string) {
	m := r.m
	if isString(m, c.names.Patient) { // not a string: reported by readStrings
		out.Patient = r.contextID(out.Patient, "patient", "Patient", bases)
	}
	if isString(m, c.names.Encounter) {
		out.Encounter = r.contextID(out.Encounter, "encounter", "Encounter", bases)
	}
	if present(m, c.names.FHIRUser) {
		if _, _, ok := smartctx.SplitUserReference(out.FHIRUser); !ok {
			r.errs = append(r.errs, fmt.Errorf("%w: %w", errClaim,
				launchError("fhirUser is not a reference to a user resource")))
		}
	}
	if v, ok := first(m, c.names.NeedPatientBanner); ok {
		b, ok := v.(bool)
		if !ok {
			r.errs = append(r.errs, fmt.Errorf("%w: need_patient_banner is not a boolean", errClaim))
		}
		out.NeedPatientBanner = b
	}
}

// contextID returns the id of the resource of type typ that v, the value
// of the launch context claim what ("patient", "encounter"), names, or
// reports why it names none and returns "". SMART sends a plain FHIR id
// ("123"); authorization servers also send a reference, which is read
// only when it can mean one resource here:
//
//   - "Patient/123": relative, so on the base the token is used at, as an
//     id is;
//   - "https://fhir.example.org/r4/Patient/123": absolute, read only when
//     it is under every FHIR base the token is for here (so, in practice,
//     when the token is for one base and that is its base): a token for
//     two bases could otherwise carry a patient of one to the other, where
//     the same id is someone else.
//
// Anything else is refused: a reference of another type, on another
// server or base, version-specific ("Patient/123/_history/1"), with a
// query or fragment, escapes, dot-segments, or in any other form
// smartctx.LocalReference does not accept ("urn:uuid:...").
func (r *claimReader) contextID(v, what, typ string, bases []string) string {
	if smartctx.ValidID(v) {
		return v
	}
	fail := func(why string) string {
		r.errs = append(r.errs, fmt.Errorf("%w: %w", errClaim, launchError(what+" "+why)))
		return ""
	}
	if v == "" {
		return fail("is empty")
	}
	t, id, ok := smartctx.LocalReference(v, "")
	if !ok && strings.Contains(v, "://") {
		n := 0
		for _, b := range bases {
			if tb, idb, okb := smartctx.LocalReference(v, b); okb {
				t, id, n = tb, idb, n+1
			}
		}
		switch {
		case n == 0:
			return fail("is not a URL of a resource on the token's base")
		case n < len(bases):
			return fail("is a URL but the token is for several bases")
		}
		ok = true
	}
	switch {
	case !ok:
		return fail("is not an id, " + typ + "/[id] or its URL here")
	case t != typ:
		return fail("is a reference to a type other than " + typ)
	}
	return id
}

// replaced reports whether a key or string inside v holds U+FFFD, which
// encoding/json puts in place of invalid UTF-8.
func replaced(v any) bool {
	switch v := v.(type) {
	case string:
		return hasRuneError(v)
	case map[string]any:
		for k, e := range v {
			if hasRuneError(k) || replaced(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if replaced(e) {
				return true
			}
		}
	}
	return false
}

func hasRuneError(s string) bool {
	i := 0
	// Claims are mostly ASCII: eight bytes a step up to the first that
	// is not, then U+FFFD is looked for from there.
	for ; i+8 <= len(s); i += 8 {
		if s[i]|s[i+1]|s[i+2]|s[i+3]|s[i+4]|s[i+5]|s[i+6]|s[i+7] >= utf8.RuneSelf {
			break
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.ContainsRune(s[i:], utf8.RuneError)
		}
	}
	return false
}

// first returns the value of the first of names present in m. A name is
// a top-level claim or, when there is no claim of that name, a path of
// object members separated by "." (see ClaimNames).
func first(m map[string]any, names []string) (any, bool) {
	for _, n := range names {
		if v, ok := lookup(m, n); ok {
			return v, true
		}
	}
	return nil, false
}

// lookup returns the claim name or, when there is none, the value at the
// path name: at each level the rest of the path is tried as one member
// name first, then its first step (up to ".") as an object to enter.
func lookup(m map[string]any, name string) (any, bool) {
	for {
		if v, ok := m[name]; ok {
			return v, true
		}
		step, rest, ok := strings.Cut(name, ".")
		if !ok {
			return nil, false
		}
		inner, ok := m[step].(map[string]any)
		if !ok {
			return nil, false
		}
		m, name = inner, rest
	}
}

// decodeSlashes reads "%2F" and "%2f" as "/" in the part of each
// space-separated scope before its first "?" (see
// Config.Issuer.DecodeScopeSlashes). It allocates only when there is one.
func decodeSlashes(s string) string {
	if !strings.Contains(s, "%2F") && !strings.Contains(s, "%2f") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	inQuery := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			inQuery = false
		case c == '?':
			inQuery = true
		case c == '%' && !inQuery && i+2 < len(s) && s[i+1] == '2' && (s[i+2] == 'F' || s[i+2] == 'f'):
			b.WriteByte('/')
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func present(m map[string]any, names []string) bool {
	_, ok := first(m, names)
	return ok
}

// isString reports whether the first of names present in m is a string.
func isString(m map[string]any, names []string) bool {
	v, _ := first(m, names)
	_, ok := v.(string)
	return ok
}

// fhirContext reads the fhirContext launch parameter: an array of objects
// each with a reference, canonical or identifier, and a role that is
// absent or not empty.
func fhirContext(v any) ([]smartctx.FHIRContextItem, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: fhirContext is not an array", errClaim)
	}
	items := make([]smartctx.FHIRContextItem, 0, len(list))
	for _, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: fhirContext item is not an object", errClaim)
		}
		var it smartctx.FHIRContextItem
		for name, dst := range map[string]*string{"reference": &it.Reference, "canonical": &it.Canonical, "type": &it.Type, "role": &it.Role} {
			if f, ok := obj[name]; ok {
				s, ok := f.(string)
				if !ok || s == "" {
					return nil, fmt.Errorf("%w: fhirContext %s is not a non-empty string", errClaim, name)
				}
				*dst = s
			}
		}
		if id, ok := obj["identifier"]; ok {
			if _, ok := id.(map[string]any); !ok {
				return nil, fmt.Errorf("%w: fhirContext identifier is not an object", errClaim)
			}
			it.Identifier, _ = json.Marshal(id)
		}
		if it.Reference == "" && it.Canonical == "" && it.Identifier == nil {
			return nil, fmt.Errorf("%w: fhirContext item has no reference, canonical or identifier", errClaim)
		}
		items = append(items, it)
	}
	return items, nil
}

// readScopes parses the scope claim into out.Scopes.
func (c *claims) readScopes(out *smartctx.Claims) error {
	m := c.MapClaims
	v, ok := first(m, c.names.Scope)
	if !ok {
		return nil
	}
	switch s := v.(type) {
	case string:
		if c.slashes {
			s = decodeSlashes(s)
		}
		out.Scopes = scope.Parse(s)
	case []any:
		list := make([]string, len(s))
		for i, e := range s {
			if list[i], ok = e.(string); !ok {
				return fmt.Errorf("%w: scope list holds a non-string", errClaim)
			}
			if c.slashes {
				list[i] = decodeSlashes(list[i])
			}
		}
		out.Scopes = scope.ParseList(list)
	default:
		return fmt.Errorf("%w: scope is neither a string nor an array", errClaim)
	}
	return nil
}
