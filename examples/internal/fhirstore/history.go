package fhirstore

import (
	"encoding/json"
	"net/http"
	"net/url"
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
	count, offset := defaultCount, 0
	var since time.Time
	for part := range strings.SplitSeq(req.Query, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return result{}, fail(http.StatusBadRequest, "invalid", "bad percent-encoding in %q", part)
		}
		switch name {
		case "_count", "_offset":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return result{}, fail(http.StatusBadRequest, "invalid", "%s must be a number, 0 or more", name)
			}
			if name == "_count" {
				count = min(n, maxCount)
			} else {
				offset = n
			}
		case "_since":
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return result{}, fail(http.StatusBadRequest, "invalid", "_since must be an instant, such as 2026-01-02T15:04:05Z")
			}
			since = t
		case "_format", "_pretty":
		default:
			return result{}, fail(http.StatusBadRequest, "not-supported", "the demo server's history takes _since and _count, not %s", name)
		}
	}
	var changes []change
	var path string
	switch req.Interaction {
	case scope.InteractionHistoryInstance:
		r := s.st.res[req.Type][req.ID]
		if r == nil {
			return result{}, fail(http.StatusNotFound, "not-found", "%s/%s is not known", req.Type, req.ID)
		}
		for i := range r.versions {
			changes = append(changes, change{typ: r.typ, id: r.id, n: i})
		}
		path = req.Type + "/" + req.ID + "/_history"
	case scope.InteractionHistoryType:
		for _, ch := range s.st.log {
			if ch.typ == req.Type {
				changes = append(changes, ch)
			}
		}
		path = req.Type + "/_history"
	default:
		changes = s.st.log
		path = "_history"
	}
	var picked []change // newest first
	for i := len(changes) - 1; i >= 0; i-- {
		if !s.version(changes[i]).at.Before(since) {
			picked = append(picked, changes[i])
		}
	}
	from := min(offset, len(picked))
	page := picked[from:min(from+count, len(picked))]
	links := []any{link("self", s.url(path), req.Query)}
	if count > 0 && from+count < len(picked) {
		links = append(links, link("next", s.url(path), withOffset(req.Query, from+count)))
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
