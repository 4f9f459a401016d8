package fhirstore

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smartguard/smartguard/scope"
)

// historyL answers history at instance, type or system level: every
// version, newest first, deletions included, with _since (versions made
// at or after an instant), _count and paging links.
func (s *Store) historyL(c *call) (result, error) {
	req := c.req
	q, err := parseHistoryQuery(req.Query)
	if err != nil {
		return result{}, err
	}
	changes, path, err := s.historyChangesL(c)
	if err != nil {
		return result{}, err
	}
	var picked []change // newest first
	for i := len(changes) - 1; i >= 0; i-- {
		if !s.version(changes[i]).at.Before(q.since) {
			picked = append(picked, changes[i])
		}
	}
	from := min(q.offset, len(picked))
	page := picked[from:min(from+q.count, len(picked))]
	links := []any{link("self", s.url(path), req.Query)}
	if q.count > 0 && from+q.count < len(picked) {
		links = append(links, link("next", s.url(path), withOffset(req.Query, from+q.count)))
	}
	entries := make([]any, 0, len(page))
	for _, ch := range page {
		entries = append(entries, s.historyEntry(ch))
	}
	b := map[string]any{"resourceType": "Bundle", "type": "history", "total": len(picked), "link": links}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return result{status: http.StatusOK, body: encode(b)}, nil
}

// historyQuery is what the query of a history interaction asks for.
type historyQuery struct {
	count, offset int
	since         time.Time // zero: every version
}

// parseHistoryQuery reads _since, _count and _offset; any other
// parameter but _format and _pretty is refused (400).
func parseHistoryQuery(raw string) (historyQuery, error) {
	q := historyQuery{count: defaultCount}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		name, value, err := decodeParam(part)
		if err != nil {
			return historyQuery{}, err
		}
		switch name {
		case "_count", "_offset":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return historyQuery{}, fail(http.StatusBadRequest, "invalid", "%s must be a number, 0 or more", name)
			}
			if name == "_count" {
				q.count = min(n, maxCount)
			} else {
				q.offset = n
			}
		case "_since":
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return historyQuery{}, fail(http.StatusBadRequest, "invalid", "_since must be an instant, such as 2026-01-02T15:04:05Z")
			}
			q.since = t
		case "_format", "_pretty":
		default:
			return historyQuery{}, fail(http.StatusBadRequest, "not-supported", "the demo server's history takes _since and _count, not %s", name)
		}
	}
	return q, nil
}

// historyChangesL returns the versions a history interaction covers,
// oldest first, and the path of its links: one resource's, one type's
// or every version.
func (s *Store) historyChangesL(c *call) ([]change, string, error) {
	req := c.req
	var changes []change
	switch req.Interaction {
	case scope.InteractionHistoryInstance:
		r := s.st.res[req.Type][req.ID]
		if r == nil {
			return nil, "", fail(http.StatusNotFound, "not-found", "%s/%s is not known", req.Type, req.ID)
		}
		for i := range r.versions {
			changes = append(changes, change{typ: r.typ, id: r.id, n: i})
		}
		return changes, req.Type + "/" + req.ID + "/_history", nil
	case scope.InteractionHistoryType:
		for _, ch := range s.st.log {
			if ch.typ == req.Type {
				changes = append(changes, ch)
			}
		}
		return changes, req.Type + "/_history", nil
	}
	return s.st.log, "_history", nil
}

func (s *Store) version(ch change) version { return s.st.res[ch.typ][ch.id].versions[ch.n] }

// historyEntry is the history Bundle entry of one version: the resource
// (none for a deletion), the request that made it and its response.
func (s *Store) historyEntry(ch change) map[string]any {
	v := s.version(ch)
	reqURL, status := ch.typ+"/"+ch.id, "200 OK"
	switch {
	case v.method == http.MethodPost:
		reqURL, status = ch.typ, "201 Created"
	case v.method == http.MethodDelete:
		status = "204 No Content"
	case v.vid == 1:
		status = "201 Created"
	}
	e := map[string]any{
		"fullUrl": s.url(ch.typ + "/" + ch.id),
		"request": map[string]any{"method": v.method, "url": reqURL},
		"response": map[string]any{"status": status, "etag": etag(v.vid), "lastModified": instant(v.at),
			"location": s.url(ch.typ + "/" + ch.id + "/_history/" + strconv.Itoa(v.vid))},
	}
	if v.body != nil {
		e["resource"] = json.RawMessage(v.body)
	}
	return e
}
