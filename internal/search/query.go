package search

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/scope"
)

// Errors. A search that is not evaluated never matches: Compile refuses it.
var (
	// ErrUnsupported is returned for a parameter, modifier or value this
	// package does not evaluate: composite, special and chained
	// parameters, _has, _filter, _text, _content, _list, _type, result
	// parameters (_count, _sort, _include, ...), terminology modifiers
	// (:in, :not-in, :above, :below on tokens), hierarchy modifiers on
	// references, and the parameters whose FHIRPath expression the
	// generator could not translate.
	ErrUnsupported = errors.New("search: not evaluated")
	// ErrInvalid is returned for a malformed search: an unknown parameter
	// or resource type, a bad value for the parameter's type, a bad
	// escape, an empty value.
	ErrInvalid = errors.New("search: malformed search")
	// ErrJSON is returned for a resource that is not a well-formed JSON
	// object this package can read: bad syntax, no resourceType, nesting
	// deeper than 128, or an element that matters given twice in one
	// object or spelled in another case.
	ErrJSON = errors.New("search: malformed resource JSON")
)

// Options are the server facts a search depends on.
type Options struct {
	// Base is the server's FHIR base URL, without a trailing "/"
	// ("https://ehr.example/fhir"): an absolute reference or search value
	// under it is the same as the relative one ("Patient/123"). Empty: no
	// absolute URL is taken for a local reference.
	Base string
	// Now is the time the "ap" prefix on dates measures from (R4: within
	// 10% of the gap between now and the date). Zero: the time of Compile.
	Now time.Time
}

// Query is a compiled search on one resource type; its Match is safe for
// concurrent use.
type Query struct {
	typ    string
	params []cparam
}

// ResourceType reads the "resourceType" of a resource (FHIR JSON).
func ResourceType(resource []byte) (string, error) {
	if typ := fhirjson.LeadingType(resource); len(typ) > 0 {
		return string(typ), nil
	}
	typ, ok := resourceType(resource)
	if !ok {
		return "", ErrJSON
	}
	return string(typ), nil
}

// Type returns the resource type the query searches.
func (q *Query) Type() string { return q.typ }

// modifier is a search parameter modifier.
type modifier uint8

const (
	mNone modifier = iota
	mMissing
	mNot
	mText
	mExact
	mContains
	mOfType
	mType // reference :[type]
	mIdentifier
	mAbove
	mBelow
)

// cparam is one compiled parameter.
type cparam struct {
	name    string
	root    *node
	kind    kind
	mod     modifier
	missing bool   // the value of :missing
	single  string // the one type a bare id means
	base    string

	tokens []tokenAlt
	strs   []string // folded (default, :contains, :text) or exact
	refs   []refAlt
	uris   []string
	dates  []dateAlt
	nums   []numAlt
	qtys   []qtyAlt
}

// tokenAlt is one value of a token parameter: [code] (not piped),
// [system]|[code], |[code] (noSystem), [system]| (anyCode), or with
// :of-type [system]|[code]|[value].
type tokenAlt struct {
	system, code, value string
	hasSystem, noSystem bool // "s|..." / "|c"
	anyCode             bool // "s|"
	piped               bool
}

// refAlt is one value of a reference parameter, local (typ, id and maybe
// version) or absolute (abs).
type refAlt struct {
	typ, id, version string // a local reference
	abs              string // an absolute URL not under Base (or a canonical)
	canonVersion     string // "|version" of a canonical search value
}

// qtyAlt is one value of a quantity parameter:
// [prefix][number][|[system]|[code]].
type qtyAlt struct {
	n            numAlt
	system, code string
	unitAny      bool // "n||code": code or unit
	hasUnit      bool
}

// Compile compiles a granular scope constraint (ANDed parameters, values
// already percent-decoded, as package scope parses them) for resources of
// type typ.
func Compile(typ string, c scope.Constraint, opts Options) (*Query, error) {
	if !scope.IsR4Type(typ) {
		return nil, fmt.Errorf("%w: %q is not an R4 resource type", ErrInvalid, typ)
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("%w: no parameter", ErrInvalid)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	opts.Base = strings.TrimSuffix(opts.Base, "/")
	q := &Query{typ: typ, params: make([]cparam, 0, len(c))}
	for _, p := range c {
		cp, err := compileParam(typ, p.Name, p.Value, &opts)
		if err != nil {
			return nil, err
		}
		q.params = append(q.params, cp)
	}
	return q, nil
}

// Parse compiles a search query string ("name=Smith&birthdate=ge2000"),
// percent-decoded as net/url's ParseQuery does ("+" is a space), for
// resources of type typ.
func Parse(typ, query string, opts Options) (*Query, error) {
	var c scope.Constraint
	for part := range strings.SplitSeq(query, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: bad percent-encoding in %q", ErrInvalid, part)
		}
		c = append(c, scope.Param{Name: name, Value: value})
	}
	return Compile(typ, c, opts)
}

// lookup returns the definition of code on typ, or on every type, and
// the key of its paths in trees.
func lookup(typ, code string) (def, string, bool) {
	if d, ok := defs[typ][code]; ok {
		return d, typ + "?" + code, true
	}
	d, ok := defs["Resource"][code]
	return d, "Resource?" + code, ok
}

// compileParam compiles one parameter, name[:modifier]=value. What it
// cannot evaluate exactly is ErrUnsupported, never ignored: a scope whose
// constraint were half applied would grant more than it says.
func compileParam(typ, name, value string, opts *Options) (cparam, error) {
	code, modName, hasMod := strings.Cut(name, ":")
	switch {
	case strings.Contains(code, "."):
		return cparam{}, fmt.Errorf("%w: chained parameter %q", ErrUnsupported, name)
	case code == "_has" || code == "_filter" || code == "_text" || code == "_content" || code == "_list" ||
		code == "_type" || code == "_query":
		return cparam{}, fmt.Errorf("%w: parameter %q", ErrUnsupported, code)
	}
	d, key, ok := lookup(typ, code)
	if !ok {
		if strings.HasPrefix(code, "_") {
			return cparam{}, fmt.Errorf("%w: parameter %q does not filter resources", ErrUnsupported, code)
		}
		return cparam{}, fmt.Errorf("%w: %s has no R4 search parameter %q", ErrInvalid, typ, code)
	}
	if d.unsupported != "" {
		return cparam{}, fmt.Errorf("%w: %s?%s (%s)", ErrUnsupported, typ, code, d.unsupported)
	}
	if value == "" {
		return cparam{}, fmt.Errorf("%w: empty value for %q", ErrInvalid, name)
	}
	cp := cparam{name: name, kind: d.kind, single: d.target, root: treeOf(key, d), base: opts.Base}
	if cp.root == nil {
		return cparam{}, fmt.Errorf("%w: %s?%s (paths)", ErrUnsupported, typ, code)
	}
	if hasMod {
		mod, err := parseModifier(d, modName)
		if err != nil {
			return cparam{}, fmt.Errorf("%w: %q", err, name)
		}
		cp.mod = mod
		if mod == mType {
			cp.single = modName
		}
	}
	if cp.mod == mMissing {
		switch value {
		case "true", "false":
			cp.missing = value == "true"
			return cp, nil
		}
		return cparam{}, fmt.Errorf("%w: %s:missing takes true or false", ErrInvalid, code)
	}
	alts, err := splitEscaped(value, ',')
	if err != nil {
		return cparam{}, err
	}
	for _, alt := range alts {
		if err := cp.addAlt(alt, opts); err != nil {
			return cparam{}, fmt.Errorf("%w (%s=%s)", err, name, value)
		}
	}
	return cp, nil
}

// parseModifier returns the modifier m of a parameter defined by d. The
// modifiers are those of R4 search.html#modifiers that need no
// terminology server and no other resource: :in, :not-in, :above and
// :below on tokens, and the hierarchy modifiers of references, are
// ErrUnsupported.
func parseModifier(d def, m string) (modifier, error) {
	if m == "missing" {
		return mMissing, nil
	}
	switch d.kind {
	case kString:
		switch m {
		case "exact":
			return mExact, nil
		case "contains":
			return mContains, nil
		}
	case kToken:
		switch m {
		case "not":
			return mNot, nil
		case "text":
			return mText, nil
		case "of-type":
			if d.hasLeaf(lIdentifier) {
				return mOfType, nil
			}
		}
	case kReference:
		switch {
		case m == "identifier":
			for _, p := range d.paths {
				if strings.HasSuffix(p, ":Reference") {
					return mIdentifier, nil
				}
			}
		case scope.IsR4Type(m):
			return mType, nil
		}
	case kUri:
		switch m {
		case "above":
			return mAbove, nil
		case "below":
			return mBelow, nil
		}
	}
	return 0, fmt.Errorf("%w: modifier", ErrUnsupported)
}

// splitEscaped splits v at the separators sep not escaped by "\" (R4
// search "Escaping Search Parameters"), keeping the escapes in the parts.
func splitEscaped(v string, sep byte) ([]string, error) {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if i+1 >= len(v) {
				return nil, fmt.Errorf("%w: a value ends in \"\\\"", ErrInvalid)
			}
			i++
		case sep:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:]), nil
}

// unescape removes the search escapes "\,", "\|", "\$" and "\\"; any other
// "\" is an error (R4: "xx\xx" is illegal).
func unescape(v string) (string, error) {
	if strings.IndexByte(v, '\\') < 0 {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 >= len(v) || !strings.ContainsRune(`,|$\`, rune(v[i+1])) {
			return "", fmt.Errorf("%w: bad escape in %q", ErrInvalid, v)
		}
		i++
		b.WriteByte(v[i])
	}
	return b.String(), nil
}

func unescapeAll(parts []string) ([]string, error) {
	for i, p := range parts {
		u, err := unescape(p)
		if err != nil {
			return nil, err
		}
		parts[i] = u
	}
	return parts, nil
}

// addAlt compiles one comma-separated value of the parameter, still
// escaped.
func (cp *cparam) addAlt(raw string, opts *Options) error {
	if raw == "" {
		return fmt.Errorf("%w: empty alternative", ErrInvalid)
	}
	switch cp.kind {
	case kToken:
		return cp.addToken(raw)
	case kString:
		s, err := unescape(raw)
		if err != nil {
			return err
		}
		if cp.mod != mExact {
			s = foldString(s)
		}
		cp.strs = append(cp.strs, s)
	case kUri:
		s, err := unescape(raw)
		if err != nil {
			return err
		}
		cp.uris = append(cp.uris, s)
	case kDate:
		s, err := unescape(raw)
		if err != nil {
			return err
		}
		p, rest := cutPrefix(s)
		r, ok := parseDate([]byte(rest), false)
		if !ok {
			return fmt.Errorf("%w: %q is not a date", ErrInvalid, s)
		}
		if p == pAp {
			r = widen(r, opts.Now)
		}
		cp.dates = append(cp.dates, dateAlt{p: p, r: r})
	case kNumber:
		s, err := unescape(raw)
		if err != nil {
			return err
		}
		a, ok := newNumAlt(cutPrefix(s))
		if !ok {
			return fmt.Errorf("%w: %q is not a number", ErrInvalid, s)
		}
		cp.nums = append(cp.nums, a)
	case kQuantity:
		return cp.addQuantity(raw)
	case kReference:
		return cp.addReference(raw, opts)
	default:
		return fmt.Errorf("%w: parameter type", ErrUnsupported)
	}
	return nil
}

// addToken compiles a token value (see tokenAlt), or the text of :text.
// The "|" are split before the escapes are removed: "a\|b" is the code
// "a|b", not a system and a code.
func (cp *cparam) addToken(raw string) error {
	if cp.mod == mText {
		s, err := unescape(raw)
		if err != nil {
			return err
		}
		cp.strs = append(cp.strs, foldString(s))
		return nil
	}
	parts, err := splitEscaped(raw, '|')
	if err != nil {
		return err
	}
	if parts, err = unescapeAll(parts); err != nil {
		return err
	}
	var a tokenAlt
	switch {
	case cp.mod == mOfType:
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return fmt.Errorf("%w: :of-type takes system|code|value", ErrInvalid)
		}
		a = tokenAlt{system: parts[0], code: parts[1], value: parts[2]}
	case len(parts) == 1:
		a = tokenAlt{code: parts[0]}
	case len(parts) == 2:
		a = tokenAlt{piped: true, system: parts[0], code: parts[1]}
		switch {
		case parts[0] == "" && parts[1] == "":
			return fmt.Errorf("%w: token \"|\"", ErrInvalid)
		case parts[0] == "":
			a.noSystem = true
		case parts[1] == "":
			a.hasSystem, a.anyCode = true, true
		default:
			a.hasSystem = true
		}
		if cp.mod != mIdentifier && !cp.root.hasLeaf(lCoding, lCodeableConcept, lIdentifier) {
			// R4: no "|" for ContactPoint, uri, boolean; a code's
			// system is implicit and not known here.
			return fmt.Errorf("%w: system|code on %s, which has no Coding or Identifier", ErrUnsupported, cp.name)
		}
	default:
		return fmt.Errorf("%w: token with more than one \"|\"", ErrInvalid)
	}
	cp.tokens = append(cp.tokens, a)
	return nil
}

// addQuantity compiles a quantity value (R4 search.html#quantity):
// a number alone, or number|system|code with the code required and the
// system optional ("number||code": any system, matching the code or the
// unit text).
func (cp *cparam) addQuantity(raw string) error {
	parts, err := splitEscaped(raw, '|')
	if err != nil {
		return err
	}
	if parts, err = unescapeAll(parts); err != nil {
		return err
	}
	if len(parts) != 1 && len(parts) != 3 {
		return fmt.Errorf("%w: quantity is number|system|code", ErrInvalid)
	}
	n, ok := newNumAlt(cutPrefix(parts[0]))
	if !ok {
		return fmt.Errorf("%w: %q is not a number", ErrInvalid, parts[0])
	}
	a := qtyAlt{n: n}
	if len(parts) == 3 {
		if parts[2] == "" {
			return fmt.Errorf("%w: quantity unit code is empty", ErrInvalid)
		}
		a.hasUnit, a.system, a.code = true, parts[1], parts[2]
		a.unitAny = parts[1] == ""
	}
	cp.qtys = append(cp.qtys, a)
	return nil
}

// addReference compiles a reference value (R4 search.html#reference).
// An absolute URL under opts.Base becomes the local Type/id it names, so
// that it matches the relative references to the same resource too. A
// bare id is refused when the parameter can point at more than one type:
// which resource it names would be a guess.
func (cp *cparam) addReference(raw string, opts *Options) error {
	if cp.mod == mIdentifier {
		return cp.addToken(raw)
	}
	s, err := unescape(raw)
	if err != nil {
		return err
	}
	var a refAlt
	if cp.mod == mType {
		if strings.ContainsAny(s, "/|") {
			return fmt.Errorf("%w: with :%s, the value is an id", ErrInvalid, cp.single)
		}
		a.typ, a.id = cp.single, s
		cp.refs = append(cp.refs, a)
		return nil
	}
	if opts.Base != "" {
		if rest, ok := strings.CutPrefix(s, opts.Base+"/"); ok {
			s = rest
		}
	}
	if strings.Contains(s, ":") {
		// An absolute URL elsewhere, a URN, or a canonical with its
		// "|version".
		a.abs, a.canonVersion, _ = strings.Cut(s, "|")
		cp.refs = append(cp.refs, a)
		return nil
	}
	typ, id, ok := strings.Cut(s, "/")
	if !ok {
		if cp.single == "" {
			return fmt.Errorf("%w: a bare id for %s, which can point at more than one type: use Type/id", ErrInvalid, cp.name)
		}
		typ, id = cp.single, s
	}
	if i := strings.Index(id, "/_history/"); i >= 0 {
		id, a.version = id[:i], id[i+len("/_history/"):]
	}
	if !scope.IsR4Type(typ) || !smartctx.ValidID(id) || strings.Contains(a.version, "/") {
		return fmt.Errorf("%w: %q is not a reference", ErrInvalid, s)
	}
	a.typ, a.id = typ, id
	if opts.Base != "" {
		a.abs = opts.Base + "/" + typ + "/" + id // for canonical targets
	}
	cp.refs = append(cp.refs, a)
	return nil
}
