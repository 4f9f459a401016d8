package context

import (
	stdctx "context"
	"encoding/json"
	"strings"
	"time"

	"github.com/smartguard/smartguard/internal/ctxkey"
	"github.com/smartguard/smartguard/scope"
)

// FHIRContextItem is one entry of the SMART "fhirContext" launch parameter:
// a resource the app was launched with. At least one of Reference,
// Canonical and Identifier is set; Role, when empty, means "launch".
type FHIRContextItem struct {
	Reference  string          `json:"reference,omitempty"`
	Canonical  string          `json:"canonical,omitempty"`
	Identifier json.RawMessage `json:"identifier,omitempty"`
	Type       string          `json:"type,omitempty"`
	Role       string          `json:"role,omitempty"`
}

// Claims is what a Grant is made of: the verified content of an access
// token, mapped from whatever claim names the authorization server uses.
// The middleware fills it; tests and non-HTTP callers may fill it by hand.
type Claims struct {
	Issuer   string    // "iss"
	Audience []string  // "aud": the resource servers the token is for
	Subject  string    // "sub"
	ClientID string    // "client_id" (or "azp")
	Scopes   scope.Set // "scope" (or "scp")

	Patient           string // id of the Patient in context, such as "123"
	Encounter         string // id of the Encounter in context
	FHIRUser          string // "Practitioner/123" or an absolute URL
	FHIRContext       []FHIRContextItem
	Tenant            string
	Intent            string
	NeedPatientBanner bool
	SmartStyleURL     string

	ExpiresAt time.Time // "exp"
	// Raw holds every claim of the token as decoded from JSON.
	Raw map[string]any
}

// Grant is what a verified access token allows: who, which client, which
// scopes, and the launch context. A Grant is immutable; its getters are
// safe on a nil *Grant and return zero values.
type Grant struct {
	c Claims
	// user is FHIRUserReference's answer, split once in NewGrant: a
	// cached grant serves many requests.
	user userRef
}

// userRef is the fhirUser claim split by SplitUserReference.
type userRef struct {
	typ, id string
	ok      bool
}

// NewGrant returns a Grant holding c. It copies FHIRContext but takes
// c.Raw as it is, to keep the verification path cheap: the caller must not
// change the map, or the values in it, afterwards.
func NewGrant(c Claims) *Grant {
	c.FHIRContext = append([]FHIRContextItem(nil), c.FHIRContext...)
	c.Audience = append([]string(nil), c.Audience...)
	g := &Grant{c: c}
	g.user.typ, g.user.id, g.user.ok = SplitUserReference(c.FHIRUser)
	return g
}

// Issuer returns the "iss" of the token.
func (g *Grant) Issuer() string {
	if g == nil {
		return ""
	}
	return g.c.Issuer
}

// Audience returns a copy of the "aud" of the token: the resource servers
// (FHIR base URLs) it is for.
func (g *Grant) Audience() []string {
	if g == nil {
		return nil
	}
	return append([]string(nil), g.c.Audience...)
}

// HasAudience reports whether the token is for the resource server aud,
// compared exactly. It allocates nothing.
func (g *Grant) HasAudience(aud string) bool {
	if g == nil {
		return false
	}
	for _, a := range g.c.Audience {
		if a == aud {
			return true
		}
	}
	return false
}

// Subject returns the "sub" of the token.
func (g *Grant) Subject() string {
	if g == nil {
		return ""
	}
	return g.c.Subject
}

// ClientID returns the id of the client (app) the token was issued to.
func (g *Grant) ClientID() string {
	if g == nil {
		return ""
	}
	return g.c.ClientID
}

// Scopes returns the granted scopes.
func (g *Grant) Scopes() scope.Set {
	if g == nil {
		return scope.Set{}
	}
	return g.c.Scopes
}

// Patient returns the id of the Patient in launch context, or "".
func (g *Grant) Patient() string {
	if g == nil {
		return ""
	}
	return g.c.Patient
}

// Encounter returns the id of the Encounter in launch context, or "".
func (g *Grant) Encounter() string {
	if g == nil {
		return ""
	}
	return g.c.Encounter
}

// FHIRUser returns the fhirUser claim: a reference to the user's own FHIR
// resource, relative ("Practitioner/123") or absolute, or "".
func (g *Grant) FHIRUser() string {
	if g == nil {
		return ""
	}
	return g.c.FHIRUser
}

// FHIRUserReference splits the fhirUser claim into its resource type and
// id, whether it is relative or absolute. ok is false when there is no
// fhirUser or it is not a reference to a Patient, Practitioner,
// PractitionerRole, RelatedPerson or Person.
//
// It does not say whether the user's resource is on your server: an
// absolute fhirUser may name another FHIR server, where the same type and
// id are someone else. To treat the user as one of your own resources,
// use [Grant.LocalFHIRUser].
func (g *Grant) FHIRUserReference() (typ, id string, ok bool) {
	if g == nil {
		return "", "", false
	}
	return g.user.typ, g.user.id, g.user.ok
}

// LocalFHIRUser returns the resource type and id of the fhirUser claim
// when it names a resource on the FHIR server whose base URL is base
// (relative, or absolute under base: see [LocalReference]) of a type
// SMART allows for fhirUser. ok is false when there is no fhirUser, when
// it is on another server, and when it is version-specific. The Guard
// uses it for the fhirUser's own read and for the compartment of a user
// whose fhirUser is a Patient.
func (g *Grant) LocalFHIRUser(base string) (typ, id string, ok bool) {
	typ, id, ok = LocalReference(g.FHIRUser(), base)
	if !ok || !userType(typ) {
		return "", "", false
	}
	return typ, id, true
}

// FHIRContext returns a copy of the fhirContext launch items.
func (g *Grant) FHIRContext() []FHIRContextItem {
	if g == nil {
		return nil
	}
	return append([]FHIRContextItem(nil), g.c.FHIRContext...)
}

// Tenant returns the opaque id of the launching organisation, or "".
func (g *Grant) Tenant() string {
	if g == nil {
		return ""
	}
	return g.c.Tenant
}

// Intent returns the launch intent, such as "reconcile-medications", or "".
func (g *Grant) Intent() string {
	if g == nil {
		return ""
	}
	return g.c.Intent
}

// NeedPatientBanner reports the need_patient_banner launch parameter.
func (g *Grant) NeedPatientBanner() bool {
	return g != nil && g.c.NeedPatientBanner
}

// SmartStyleURL returns the smart_style_url launch parameter, or "".
func (g *Grant) SmartStyleURL() string {
	if g == nil {
		return ""
	}
	return g.c.SmartStyleURL
}

// ExpiresAt returns when the token expires.
func (g *Grant) ExpiresAt() time.Time {
	if g == nil {
		return time.Time{}
	}
	return g.c.ExpiresAt
}

// Claim returns the raw value of a token claim, as decoded from JSON.
func (g *Grant) Claim(name string) (any, bool) {
	if g == nil {
		return nil, false
	}
	v, ok := g.c.Raw[name]
	return v, ok
}

// Access tells how the grant allows permission p on resource type typ in
// context c. It is the scopes' answer (scope.Set.Access) with one rule of
// launch context added: patient scopes grant nothing when no patient is in
// context. It allocates nothing.
func (g *Grant) Access(c scope.Context, typ string, p scope.Permission) scope.Access {
	if g == nil || c == scope.Patient && g.c.Patient == "" {
		return scope.Denied
	}
	return g.c.Scopes.Access(c, typ, p)
}

// Allows reports whether the grant allows every letter of p on every
// resource of type typ in context c, without constraint; see Access.
func (g *Grant) Allows(c scope.Context, typ string, p scope.Permission) bool {
	return g.Access(c, typ, p) == scope.Allowed
}

// NewContext returns a copy of ctx carrying g.
func NewContext(ctx stdctx.Context, g *Grant) stdctx.Context {
	return stdctx.WithValue(ctx, ctxkey.Grant{}, g)
}

// FromContext returns the Grant carried by ctx, if any.
func FromContext(ctx stdctx.Context) (*Grant, bool) {
	g, ok := ctx.Value(ctxkey.Grant{}).(*Grant)
	return g, ok && g != nil
}

// PatientID returns the id of the Patient in launch context of the grant
// carried by ctx, or "" when there is none.
func PatientID(ctx stdctx.Context) string {
	g, _ := FromContext(ctx)
	return g.Patient()
}

// ValidID reports whether s is a FHIR R4 resource id: 1 to 64 characters
// from A-Z, a-z, 0-9, "-" and "." (ASCII only), other than "." and "..".
//
// The R4 grammar, [A-Za-z0-9\-\.]{1,64}, admits "." and "..", but in a
// URL or a reference they are dot-segments, which resolution removes
// (RFC 3986, section 5.2.4): "Patient/.." resolves to the server's base
// and "Patient/." to "Patient/", so an id of either names something other
// than a resource, whoever builds a URL from it. ValidID refuses them
// ("...", "a.b" and "a..b" are ids). It is the one check of ids in this
// library: launch context claims, fhirUser, request URLs and references
// in search parameters all go through it.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// userTypes are the resource types a fhirUser may reference.
var userTypes = [...]string{"Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Person"}

// SplitUserReference splits a fhirUser value, relative ("Practitioner/123")
// or absolute ("https://ehr.example.org/fhir/Practitioner/123"), into its
// resource type and id. ok is false unless the type is one SMART allows for
// fhirUser and the id is a valid FHIR id. An absolute URL's base is not
// checked here: use [Grant.LocalFHIRUser] before treating the user as one
// of your own resources.
func SplitUserReference(ref string) (typ, id string, ok bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndexByte(ref, '/')
	if slash <= 0 {
		return "", "", false
	}
	id = ref[slash+1:]
	head := ref[:slash]
	typ = head[strings.LastIndexByte(head, '/')+1:]
	if !ValidID(id) {
		return "", "", false
	}
	if userType(typ) && (typ == head || strings.Contains(head, "://")) {
		return typ, id, true
	}
	return "", "", false
}

// userType reports whether typ is a resource type a fhirUser may
// reference.
func userType(typ string) bool {
	for _, t := range userTypes {
		if typ == t {
			return true
		}
	}
	return false
}
