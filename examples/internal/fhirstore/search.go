package fhirstore

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// Paging: the page size without _count, and the largest one.
const (
	defaultCount = 50
	maxCount     = 1000
)

// compiled is a search compiled by the library's in-memory evaluator;
// nil matches everything.
type compiled = smartmw.Search

// include is one _include or _revinclude: source type, reference
// parameter of it, and the target type, if named.
type include struct{ src, param, target string }

// searchSpec is a search query taken apart: the parameters that select
// resources, for smartmw.ParseSearch, and the ones that shape the result,
// which the store applies.
type searchSpec struct {
	filter          string   // the selecting parameters, still escaped
	types           []string // _type
	count, offset   int      // _count (-1 when absent), _offset
	summaryCount    bool     // _summary=count
	subset          subset   // _elements and the other _summary values
	sort            string   // _sort
	includes        []include
	revincludes     []include
	hasResultParams bool
}

// parseSearchQuery takes a raw query string apart. Result parameters
// the store does not apply are refused (400): the search would not mean
// what the client asked for.
func parseSearchQuery(raw string) (*searchSpec, error) {
	spec := &searchSpec{count: -1}
	var filter []string
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		name, value, err := decodeParam(part)
		if err != nil {
			return nil, err
		}
		result := false
		if strings.HasPrefix(name, "_") {
			if result, err = spec.apply(name, value); err != nil {
				return nil, err
			}
		}
		if !result {
			filter = append(filter, part)
		}
		spec.hasResultParams = spec.hasResultParams || result
	}
	spec.filter = strings.Join(filter, "&")
	return spec, nil
}

// decodeParam decodes the name and the value of one name=value of a
// query string.
func decodeParam(part string) (name, value string, err error) {
	k, v, _ := strings.Cut(part, "=")
	name, err1 := url.QueryUnescape(k)
	value, err2 := url.QueryUnescape(v)
	if err1 != nil || err2 != nil {
		return "", "", fail(http.StatusBadRequest, "invalid", "bad percent-encoding in %q", part)
	}
	return name, value, nil
}

// apply takes a parameter whose name starts with "_" into spec. It
// reports whether the parameter shapes the result (false for those that
// select resources, _id, _lastUpdated, _tag, ..., which the evaluator
// takes, or refuses).
func (spec *searchSpec) apply(name, value string) (result bool, err error) {
	switch name {
	case "_count", "_offset":
		err = spec.setPaging(name, value)
	case "_summary":
		if value == "count" {
			spec.summaryCount = true
		} else {
			err = spec.subset.setSummary(value)
		}
	case "_elements":
		err = spec.subset.addElements(value)
	case "_total":
		if value != "none" && value != "estimate" && value != "accurate" {
			err = fail(http.StatusBadRequest, "invalid", "_total must be none, estimate or accurate")
		}
	case "_format":
		if !strings.Contains(value, "json") {
			err = fail(http.StatusBadRequest, "not-supported", "the demo server speaks JSON only")
		}
	case "_pretty":
	case "_sort":
		err = spec.setSort(value)
	case "_include", "_revinclude":
		err = spec.addInclude(name, value)
	case "_type":
		err = spec.setTypes(value)
	case "_include:iterate", "_revinclude:iterate", "_contained", "_containedType":
		err = fail(http.StatusBadRequest, "not-supported", "the demo server does not support %s", name)
	default:
		return false, nil
	}
	return true, err
}

// setPaging reads _count (at most maxCount) or _offset.
func (spec *searchSpec) setPaging(name, value string) error {
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 {
		return fail(http.StatusBadRequest, "invalid", "%s must be a number, 0 or more", name)
	}
	if name == "_offset" {
		spec.offset = n
	} else {
		spec.count = min(n, maxCount)
	}
	return nil
}

// setSort reads _sort: _id or _lastUpdated, ascending or descending.
func (spec *searchSpec) setSort(value string) error {
	switch value {
	case "_id", "-_id", "_lastUpdated", "-_lastUpdated":
		spec.sort = value
		return nil
	}
	return fail(http.StatusBadRequest, "not-supported", "the demo server sorts by _id or _lastUpdated only")
}

// addInclude reads one _include or _revinclude.
func (spec *searchSpec) addInclude(name, value string) error {
	inc, err := parseInclude(name, value)
	if err != nil {
		return err
	}
	if name == "_include" {
		spec.includes = append(spec.includes, inc)
	} else {
		spec.revincludes = append(spec.revincludes, inc)
	}
	return nil
}

// setTypes reads _type, a comma list of R4 types.
func (spec *searchSpec) setTypes(value string) error {
	for t := range strings.SplitSeq(value, ",") {
		if !scope.IsR4Type(t) {
			return fail(http.StatusBadRequest, "invalid", "_type: %q is not a FHIR R4 resource type", t)
		}
		spec.types = append(spec.types, t)
	}
	return nil
}

// parseInclude reads "Source:param" or "Source:param:Target", param
// being a reference search parameter of Source.
func parseInclude(name, v string) (include, error) {
	parts := strings.Split(v, ":")
	bad := fail(http.StatusBadRequest, "invalid", "%s=%s: give Type:parameter or Type:parameter:TargetType", name, v)
	if len(parts) < 2 || len(parts) > 3 || !scope.IsR4Type(parts[0]) || parts[1] == "" {
		return include{}, bad
	}
	inc := include{src: parts[0], param: parts[1]}
	probe := "Patient"
	if len(parts) == 3 {
		if !scope.IsR4Type(parts[2]) {
			return include{}, bad
		}
		inc.target, probe = parts[2], parts[2]
	}
	// Only a reference parameter takes a :Type modifier.
	if _, err := smartmw.ParseSearch(inc.src, url.QueryEscape(inc.param)+":"+probe+"=x", ""); err != nil {
		return include{}, fail(http.StatusBadRequest, "invalid", "%s=%s: %s is not a reference search parameter of %s", name, v, inc.param, inc.src)
	}
	return inc, nil
}

// compile compiles the selecting parameters of a search on typ with the
// library's evaluator; "" compiles to nil, which matches everything.
func compile(typ, filter, base string) (*compiled, error) {
	if filter == "" {
		return nil, nil
	}
	q, err := smartmw.ParseSearch(typ, filter, base)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "middleware: ")
		if errors.Is(err, smartmw.ErrUnsupportedSearch) {
			return nil, fail(http.StatusBadRequest, "not-supported", "%s search: %s", typ, msg)
		}
		return nil, fail(http.StatusBadRequest, "invalid", "%s search: %s", typ, msg)
	}
	return q, nil
}

// typesL returns the types the store holds, sorted.
func (s *Store) typesL() []string {
	types := make([]string, 0, len(s.st.res))
	for t := range s.st.res {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// recordsL returns the current (not deleted) resources of typ, by id.
func (s *Store) recordsL(typ string) []*record {
	var out []*record
	for _, r := range s.st.res[typ] {
		if r.live() {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *record) int { return strings.Compare(a.id, b.id) })
	return out
}

// findL returns the current resources of types, in that order and by
// id, that match the type's search in filters and, when patient is set,
// belong to the compartment of Patient/<patient>.
func (s *Store) findL(types []string, filters map[string]*compiled, patient string) []*record {
	var out []*record
	for _, typ := range types {
		q := filters[typ]
		for _, r := range s.recordsL(typ) {
			body := r.current().body
			if patient != "" {
				if in, err := smartmw.InPatientCompartment(body, patient); err != nil || !in {
					continue
				}
			}
			if q != nil {
				if ok, err := q.Matches(body); err != nil || !ok {
					continue
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// searchL answers a search at type level, in a Patient compartment
// (Patient/{id}/Observation, Patient/{id}/*) or at system level (with
// _type, or every type the store holds).
func (s *Store) searchL(c *call) (result, error) {
	req := c.req
	raw := req.Query
	if req.Form != "" {
		raw = strings.TrimPrefix(raw+"&"+req.Form, "&")
	}
	spec, err := parseSearchQuery(raw)
	if err != nil {
		return result{}, err
	}
	types := []string{req.Type}
	switch {
	case req.Type == "" || req.Type == "*":
		types = slices.Sorted(slices.Values(spec.types))
		if types == nil {
			types = s.typesL()
		}
	case spec.types != nil:
		return result{}, fail(http.StatusBadRequest, "invalid", "_type is for searches of several types")
	}
	patient, path := "", req.Type
	switch req.CompartmentType {
	case "":
	case "Patient":
		patient, path = req.CompartmentID, "Patient/"+req.CompartmentID+"/"+req.Type
	default:
		return result{}, fail(http.StatusBadRequest, "not-supported", "the demo server searches the Patient compartment only")
	}
	filters := map[string]*compiled{}
	for _, t := range types {
		if filters[t], err = compile(t, spec.filter, s.base); err != nil {
			return result{}, err
		}
	}
	matches := s.findL(types, filters, patient)
	sortRecords(matches, spec.sort)
	count := spec.count
	if count < 0 {
		count = defaultCount
	}
	if spec.summaryCount {
		count = 0
	}
	from := min(spec.offset, len(matches))
	page := matches[from:min(from+count, len(matches))]
	links := []any{link("self", s.url(path), raw)}
	if count > 0 && from+count < len(matches) {
		links = append(links, link("next", s.url(path), withOffset(raw, from+count)))
	}
	entries := make([]any, 0, len(page))
	for _, r := range page {
		entries = append(entries, s.entry(r, "match", spec.subset))
	}
	for _, r := range s.includedL(spec, page) {
		entries = append(entries, s.entry(r, "include", spec.subset))
	}
	return s.searchset(len(matches), links, entries), nil
}

// searchset is a searchset Bundle.
func (s *Store) searchset(total int, links, entries []any) result {
	b := map[string]any{"resourceType": "Bundle", "type": "searchset", "total": total}
	if links != nil {
		b["link"] = links
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return result{status: http.StatusOK, body: encode(b)}
}

// entry is a searchset entry for the current version of r, of what sb
// keeps of it.
func (s *Store) entry(r *record, mode string, sb subset) map[string]any {
	return map[string]any{"fullUrl": s.url(r.typ + "/" + r.id), "resource": json.RawMessage(sb.apply(r.current().body)),
		"search": map[string]any{"mode": mode}}
}

// link is a Bundle link to path with query raw.
func link(rel, path, raw string) map[string]any {
	if raw != "" {
		path += "?" + raw
	}
	return map[string]any{"relation": rel, "url": path}
}

// withOffset returns raw with _offset set to n.
func withOffset(raw string, n int) string {
	var keep []string
	for part := range strings.SplitSeq(raw, "&") {
		if part != "" && !strings.HasPrefix(part, "_offset=") {
			keep = append(keep, part)
		}
	}
	return strings.Join(append(keep, "_offset="+strconv.Itoa(n)), "&")
}

// sortRecords sorts by _sort: _id or _lastUpdated, "-" for descending;
// "" keeps the store's order (type, then id).
func sortRecords(rs []*record, by string) {
	desc := strings.HasPrefix(by, "-")
	var cmp func(a, b *record) int
	switch strings.TrimPrefix(by, "-") {
	case "_id":
		cmp = func(a, b *record) int { return strings.Compare(a.id, b.id) }
	case "_lastUpdated":
		cmp = func(a, b *record) int { return a.current().at.Compare(b.current().at) }
	default:
		return
	}
	slices.SortStableFunc(rs, func(a, b *record) int {
		if desc {
			return cmp(b, a)
		}
		return cmp(a, b)
	})
}

// includedL returns what the _include and _revinclude of spec add to the
// page: for _include=Source:param, the resources a page resource of type
// Source refers to by param; for _revinclude=Source:param, the resources
// of type Source that refer to a page resource by param. Both are found
// by running the search "param=Type/id" through the library's
// evaluator. Nothing in the page is repeated.
func (s *Store) includedL(spec *searchSpec, page []*record) []*record {
	if len(spec.includes)+len(spec.revincludes) == 0 || len(page) == 0 {
		return nil
	}
	seen := map[*record]bool{}
	for _, r := range page {
		seen[r] = true
	}
	var out []*record
	add := func(r *record) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	refersTo := func(src, param string, target *record) *compiled {
		q, err := compile(src, url.QueryEscape(param)+"="+target.typ+"/"+target.id, s.base)
		if err != nil {
			return nil
		}
		return q
	}
	for _, inc := range spec.includes {
		var sources []*record
		for _, r := range page {
			if r.typ == inc.src {
				sources = append(sources, r)
			}
		}
		if len(sources) == 0 {
			continue
		}
		types := s.typesL()
		if inc.target != "" {
			types = []string{inc.target}
		}
		for _, t := range types {
			for _, cand := range s.recordsL(t) {
				q := refersTo(inc.src, inc.param, cand)
				if q == nil {
					continue
				}
				for _, src := range sources {
					if ok, err := q.Matches(src.current().body); err == nil && ok {
						add(cand)
						break
					}
				}
			}
		}
	}
	for _, rev := range spec.revincludes {
		referrers := s.recordsL(rev.src)
		for _, r := range page {
			if rev.target != "" && r.typ != rev.target {
				continue
			}
			q := refersTo(rev.src, rev.param, r)
			if q == nil {
				continue
			}
			for _, cand := range referrers {
				if ok, err := q.Matches(cand.current().body); err == nil && ok {
					add(cand)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *record) int {
		if c := strings.Compare(a.typ, b.typ); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

// operationL runs the one operation the demo server has,
// Patient/{id}/$everything: the patient and every resource of its
// compartment.
func (s *Store) operationL(c *call) (result, error) {
	if c.req.Operation != "$everything" || c.req.Type != "Patient" || c.req.ID == "" {
		return result{}, fail(http.StatusBadRequest, "not-supported", "the demo server has no operation %s here; it has Patient/{id}/$everything", c.req.Operation)
	}
	if !s.st.res["Patient"][c.req.ID].live() {
		return result{}, fail(http.StatusNotFound, "not-found", "Patient/%s is not known", c.req.ID)
	}
	all := s.findL(s.typesL(), nil, c.req.ID)
	entries := make([]any, 0, len(all))
	for _, r := range all {
		entries = append(entries, s.entry(r, "match", subset{}))
	}
	return s.searchset(len(all), nil, entries), nil
}
