package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/smartguard/smartguard/internal/engine"
)

// AccessPolicy is a declarative policy of what users and clients may do,
// intersected with their user/ and system/ scopes (SMART: scopes delegate
// a user's or client's permissions, never add to them). A request is
// allowed only when both allow it, and every resource that leaves, or
// that a write puts or replaces, must satisfy both; patient/ scopes are
// not affected. A token whose user or client no rule names gets nothing
// from its user/ and system/ scopes. Write it as Go values or load it
// from JSON with LoadAccessPolicy; New refuses a policy that cannot be
// evaluated, naming the rule. See docs/policy.md.
type AccessPolicy struct {
	// Rules say, for each kind of subject, what it may do. Every rule
	// whose subject matches the token applies; their grants are ORed.
	Rules []AccessRule `json:"rules"`

	// Relationships name sets of patients a subject reaches (a
	// practitioner's panel, a CareTeam's patients, a Group's members),
	// for AccessGrant.Patients.
	Relationships []Relationship `json:"relationships,omitempty"`

	// Relations finds the patients of a relationship. Default (nil): the
	// Guard runs the relationship's search through the handler itself,
	// as its own read (IsStoredRead reports true), and reads the answer.
	Relations Relations `json:"-"`

	// CacheTTL is how long the patients a relationship reached are
	// remembered: a CareTeam change takes effect within it. Default 1
	// minute.
	CacheTTL time.Duration `json:"-"`

	// CacheSize bounds the relationships remembered (one per subject and
	// relationship). Default 10000.
	CacheSize int `json:"-"`

	// MaxQueryIDs bounds the patients a search is narrowed to by adding
	// them to its query ("patient=Patient/1,Patient/2,..."); with more,
	// the search is forwarded as it is and the response guard filters
	// the answer (without "total"). Default 100.
	MaxQueryIDs int `json:"-"`

	// MaxLookupIDs bounds the patients one relationship reaches: the
	// handler's search is asked for at most that many (_count), its
	// "next" links are followed while they stay under this FHIR base (at
	// most 100 pages), and ids beyond the bound are dropped, which
	// refuses more, never less (a relationship only adds patients to what
	// a grant reaches). A page that cannot be read, or a "next" link
	// elsewhere or seen before, fails the lookup (503): the pages read
	// before are not used. Default 10000.
	MaxLookupIDs int `json:"-"`
}

// AccessRule grants its subject what its Grants say. The subject is
// every field set among FHIRUserType, Claim and Value, and ClientID: all
// must match the token. A rule names at least one.
type AccessRule struct {
	// Name names the rule in refusals and audit events. Required, unique.
	Name string `json:"name"`
	// FHIRUserType matches the type of the token's fhirUser
	// ("Practitioner", "RelatedPerson", ...).
	FHIRUserType string `json:"fhirUserType,omitempty"`
	// Claim is a path into the token's claims, steps separated by "."
	// (as in ClaimNames: "roles", "realm_access.roles",
	// "extensions.hl7-b2b.purpose_of_use"); the rule matches when the
	// claim is Value, or an array holding Value.
	Claim string `json:"claim,omitempty"`
	Value string `json:"value,omitempty"`
	// ClientID matches the token's client_id.
	ClientID string `json:"clientId,omitempty"`
	// Grants are what the subject may do; at least one.
	Grants []AccessGrant `json:"grants"`
}

// AccessGrant grants interactions on resource types, on the resources
// that satisfy its limits (all of them, when it has none).
type AccessGrant struct {
	// Types are R4 resource types, or "*" alone for every type.
	Types []string `json:"types"`
	// Interactions are the letters granted, in SMART's order: c create,
	// r read (vread, instance history), u update and patch, d delete, s
	// search and type history.
	Interactions string `json:"interactions"`
	// Criteria is a FHIR search ("category=laboratory&subject=%patient")
	// the resources must match, evaluated in memory on every resource
	// read or written and added to the query of a search. Variables:
	// %fhirUser (the token's fhirUser as "Type/id" on this server),
	// %patient ("Patient/<id>" of the patient in context), %client (the
	// client_id). A grant whose variable has no value grants nothing.
	// Criteria need named types.
	Criteria string `json:"criteria,omitempty"`
	// Patients names a Relationship: only resources in the compartment of
	// one of the patients it reaches (and those Patients themselves) are
	// granted. Types about no patient are not.
	Patients string `json:"patients,omitempty"`
}

// Relationship is a set of patients a subject reaches, found by a FHIR
// search: the Patients it finds ("Patient?general-practitioner=%fhirUser",
// Path ""), or the patients referenced at Path in the resources it finds
// ("CareTeam?participant=%fhirUser&status=active" with Path "subject";
// "Group?_id=attributed" with Path "member.entity").
type Relationship struct {
	Name   string `json:"name"`
	Search string `json:"search"`
	Path   string `json:"path,omitempty"`
}

// Relations finds the ids of the patients a relationship reaches: search
// is its Search with the variables replaced ("CareTeam?participant=
// Practitioner/7&status=active"), path its Path. It must be safe for
// concurrent use. An error refuses the request (503); fewer ids refuse
// more, never less. What it returns is cached (AccessPolicy.CacheTTL).
type Relations interface {
	Patients(ctx context.Context, search, path string) ([]string, error)
}

// LoadAccessPolicy reads an AccessPolicy from JSON: {"rules": [...],
// "relationships": [...]}, with the field names of the json tags.
// Unknown fields and trailing data are errors. It does not check the
// rules: New does.
func LoadAccessPolicy(r io.Reader) (*AccessPolicy, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("middleware: access policy: %w", err)
	}
	if len(data) > 1<<20 {
		return nil, errors.New("middleware: access policy: larger than 1 MiB")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p AccessPolicy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("middleware: access policy: %w", err)
	}
	if dec.More() {
		return nil, errors.New("middleware: access policy: data after the policy")
	}
	return &p, nil
}

// engine returns p as the engine takes it.
func (p *AccessPolicy) engine(now func() time.Time) *engine.AccessPolicy {
	if p == nil {
		return nil
	}
	ep := &engine.AccessPolicy{CacheTTL: p.CacheTTL, CacheSize: p.CacheSize, MaxQueryIDs: p.MaxQueryIDs,
		MaxLookupIDs: p.MaxLookupIDs, Now: now}
	if p.Relations != nil {
		ep.Relations = p.Relations
	}
	for _, r := range p.Relationships {
		ep.Relationships = append(ep.Relationships, engine.Relationship(r))
	}
	for _, r := range p.Rules {
		er := engine.AccessRule{Name: r.Name, FHIRUserType: r.FHIRUserType, Claim: r.Claim, Value: r.Value, ClientID: r.ClientID}
		for _, g := range r.Grants {
			er.Grants = append(er.Grants, engine.AccessGrant(g))
		}
		ep.Rules = append(ep.Rules, er)
	}
	return ep
}

// check reports what makes p unusable, naming the rule.
func (p *AccessPolicy) check(base string) error {
	if p == nil {
		return nil
	}
	if p.CacheTTL < 0 || p.CacheSize < 0 || p.MaxQueryIDs < 0 || p.MaxLookupIDs < 0 {
		return errors.New("AccessPolicy: CacheTTL, CacheSize, MaxQueryIDs and MaxLookupIDs cannot be negative")
	}
	if err := engine.CheckPolicy(p.engine(nil), base); err != nil {
		return fmt.Errorf("AccessPolicy: %w", err)
	}
	return nil
}
