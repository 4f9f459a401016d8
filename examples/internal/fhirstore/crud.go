package fhirstore

import (
	"net/http"
	"strconv"
	"strings"
)

// readL answers a read: the current version (what _elements and
// _summary keep of it), 404 for an unknown resource, 410 for a deleted
// one, 304 when If-None-Match names it.
func (s *Store) readL(c *call) (result, error) {
	sb, err := readSubset(c.req.Query)
	if err != nil {
		return result{}, err
	}
	r := s.st.res[c.req.Type][c.req.ID]
	if r == nil {
		return result{}, fail(http.StatusNotFound, "not-found", "%s/%s is not known", c.req.Type, c.req.ID)
	}
	v := r.current()
	if v.body == nil {
		return result{}, fail(http.StatusGone, "deleted", "%s/%s was deleted", c.req.Type, c.req.ID)
	}
	if c.ifNoneMatch != "" && matchesETag(c.ifNoneMatch, v.vid) {
		return result{status: http.StatusNotModified, vid: v.vid, at: v.at}, nil
	}
	return result{status: http.StatusOK, body: sb.apply(v.body), vid: v.vid, at: v.at}, nil
}

// vreadL answers a vread: the version asked for (what _elements and
// _summary keep of it), 404 when there is none, 410 when it is a
// deletion.
func (s *Store) vreadL(c *call) (result, error) {
	sb, err := readSubset(c.req.Query)
	if err != nil {
		return result{}, err
	}
	r := s.st.res[c.req.Type][c.req.ID]
	vid, err := strconv.Atoi(c.req.VersionID)
	if r == nil || err != nil {
		return result{}, fail(http.StatusNotFound, "not-found", "%s/%s/_history/%s is not known", c.req.Type, c.req.ID, c.req.VersionID)
	}
	for _, v := range r.versions {
		if v.vid != vid {
			continue
		}
		if v.body == nil {
			return result{}, fail(http.StatusGone, "deleted", "version %d of %s/%s is its deletion", vid, c.req.Type, c.req.ID)
		}
		return result{status: http.StatusOK, body: sb.apply(v.body), vid: v.vid, at: v.at}, nil
	}
	return result{}, fail(http.StatusNotFound, "not-found", "%s/%s has no version %s", c.req.Type, c.req.ID, c.req.VersionID)
}

// readSubset reads the _elements and _summary of a read or vread; a read
// ignores its other parameters.
func readSubset(raw string) (subset, error) {
	var sb subset
	for part := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if k != "_elements" && k != "_summary" {
			continue
		}
		_, value, err := decodeParam(part)
		switch {
		case err != nil:
		case k == "_elements":
			err = sb.addElements(value)
		case value == "count":
			err = fail(http.StatusBadRequest, "invalid", "_summary=count is for searches")
		default:
			err = sb.setSummary(value)
		}
		if err != nil {
			return subset{}, err
		}
	}
	return sb, nil
}

// written is the answer to a create, update or patch that made version v
// of typ/id, shaped by the Prefer header.
func (s *Store) written(c *call, status int, typ, id string, v version) result {
	res := result{status: status, vid: v.vid, at: v.at,
		location: s.url(typ + "/" + id + "/_history/" + strconv.Itoa(v.vid))}
	switch c.prefer {
	case "minimal":
	case "OperationOutcome":
		res.body = outcomeJSON("information", "informational", http.StatusText(status)+": "+typ+"/"+id)
	default:
		res.body = v.body
	}
	return res
}

// checkIfMatch refuses a write whose If-Match does not name the current
// version of r (412), the version-aware update of R4.
func checkIfMatch(ifMatch string, r *record) error {
	if ifMatch == "" {
		return nil
	}
	if !r.live() {
		return fail(http.StatusPreconditionFailed, "conflict", "If-Match: the resource has no current version")
	}
	if v := r.current().vid; !matchesETag(ifMatch, v) {
		return fail(http.StatusPreconditionFailed, "conflict", "If-Match: the current version is %s", etag(v))
	}
	return nil
}

// createL creates a resource with a new id (the body's id is ignored, as
// R4 asks). With If-None-Exist, one match is answered 200 with it and
// nothing is created, several are 412.
func (s *Store) createL(c *call) (result, error) {
	typ := c.req.Type
	m, err := parseResource(c.body, typ)
	if err != nil {
		return result{}, err
	}
	if c.ifNoneExist != "" || c.req.Conditional {
		matches, err := s.matchL(typ, c.ifNoneExist)
		if err != nil {
			return result{}, err
		}
		switch len(matches) {
		case 0:
		case 1:
			r := matches[0]
			v := r.current()
			res := s.written(c, http.StatusOK, typ, r.id, v)
			res.location = s.url(typ + "/" + r.id)
			return res, nil
		default:
			return result{}, fail(http.StatusPreconditionFailed, "multiple-matches",
				"If-None-Exist matches %d resources: the criteria are not selective enough", len(matches))
		}
	}
	id := c.newID
	if id == "" {
		id = s.newIDL(typ)
	}
	v := s.writeL(typ, id, m, http.MethodPost)
	return s.written(c, http.StatusCreated, typ, id, v), nil
}

// updateL replaces a resource by id, or creates it with that id (200 or
// 201). The conditional form selects it by search.
func (s *Store) updateL(c *call) (result, error) {
	typ := c.req.Type
	m, err := parseResource(c.body, typ)
	if err != nil {
		return result{}, err
	}
	if c.req.Conditional {
		return s.conditionalUpdateL(c, m)
	}
	if id, _ := m["id"].(string); id != c.req.ID {
		return result{}, fail(http.StatusBadRequest, "invalid", "the body's id must be %s, the id in the URL", c.req.ID)
	}
	r := s.st.res[typ][c.req.ID]
	if err := checkIfMatch(c.ifMatch, r); err != nil {
		return result{}, err
	}
	status := http.StatusCreated
	if r.live() {
		if err := permitted(c.d, r.current().body); err != nil {
			return result{}, err
		}
		status = http.StatusOK
	}
	v := s.writeL(typ, c.req.ID, m, http.MethodPut)
	return s.written(c, status, typ, c.req.ID, v), nil
}

// conditionalUpdateL is an update selected by the search in the URL: no
// match creates the resource (with a new id), one match updates it (the
// body's id, if any, must be its id), several are 412.
func (s *Store) conditionalUpdateL(c *call, m map[string]any) (result, error) {
	typ := c.req.Type
	matches, err := s.matchL(typ, c.req.Query)
	if err != nil {
		return result{}, err
	}
	switch len(matches) {
	case 0:
		if c.ifMatch != "" {
			return result{}, fail(http.StatusPreconditionFailed, "conflict", "If-Match: no resource matches")
		}
		id := s.newIDL(typ)
		v := s.writeL(typ, id, m, http.MethodPut)
		return s.written(c, http.StatusCreated, typ, id, v), nil
	case 1:
	default:
		return result{}, fail(http.StatusPreconditionFailed, "multiple-matches",
			"the search matches %d resources: the criteria are not selective enough", len(matches))
	}
	r := matches[0]
	if id, has := m["id"].(string); has && id != r.id {
		return result{}, fail(http.StatusBadRequest, "invalid", "the body's id %s is not the id of the resource the search found", id)
	}
	if err := checkIfMatch(c.ifMatch, r); err != nil {
		return result{}, err
	}
	if err := permitted(c.d, r.current().body); err != nil {
		return result{}, err
	}
	v := s.writeL(typ, r.id, m, http.MethodPut)
	return s.written(c, http.StatusOK, typ, r.id, v), nil
}

// deleteByL deletes a resource by id or, conditionally, the one resource
// the search finds (none: nothing to do; several: 412). Deleting what
// does not exist succeeds (204), as R4 allows.
func (s *Store) deleteByL(c *call) (result, error) {
	var r *record
	if c.req.Conditional {
		matches, err := s.matchL(c.req.Type, c.req.Query)
		if err != nil {
			return result{}, err
		}
		if len(matches) > 1 {
			return result{}, fail(http.StatusPreconditionFailed, "multiple-matches",
				"the search matches %d resources: the demo server deletes one at a time", len(matches))
		}
		if len(matches) == 1 {
			r = matches[0]
		}
	} else {
		r = s.st.res[c.req.Type][c.req.ID]
	}
	if err := checkIfMatch(c.ifMatch, r); err != nil {
		return result{}, err
	}
	if !r.live() {
		return result{status: http.StatusNoContent}, nil
	}
	if err := permitted(c.d, r.current().body); err != nil {
		return result{}, err
	}
	v := s.deleteL(r)
	return result{status: http.StatusNoContent, vid: v.vid, at: v.at}, nil
}

// matchL returns the current resources of typ that match criteria, the
// search of a conditional interaction ("identifier=x", or
// "Patient?identifier=x").
func (s *Store) matchL(typ, criteria string) ([]*record, error) {
	if t, q, ok := strings.Cut(criteria, "?"); ok {
		if t != typ && t != "" {
			return nil, fail(http.StatusBadRequest, "invalid", "the search of a conditional %s request cannot be on %s", typ, t)
		}
		criteria = q
	}
	spec, err := parseSearchQuery(criteria)
	if err != nil {
		return nil, err
	}
	if spec.filter == "" || spec.hasResultParams {
		return nil, fail(http.StatusBadRequest, "invalid", "a conditional request needs search parameters, and only those")
	}
	q, err := compile(typ, spec.filter, s.base)
	if err != nil {
		return nil, err
	}
	return s.findL([]string{typ}, map[string]*compiled{typ: q}, ""), nil
}
