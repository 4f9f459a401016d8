// Package fhirstore is the examples' in-memory FHIR R4 server, seeded with
// US Core-shaped sample patients (Seed): read, vread, update (versioned,
// If-Match), create, delete and JSON Patch, their conditional forms,
// history at instance, type and system level, search at type,
// compartment and system level with every parameter evaluated by
// smartmw.ParseSearch, _include and _revinclude, _elements and _summary
// (subset), paging, batch and transaction Bundles, Patient/$everything
// and a CapabilityStatement. It shows what a handler behind smartguard
// does with the decision on its request context.
package fhirstore

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// maxBody bounds a request body the store reads.
const maxBody = 10 << 20

// Store is an in-memory FHIR R4 server of JSON resources. Every change
// makes a new version; versions are kept, deleted resources too (as a
// delete version). It trusts the Guard in front of it for what may be
// asked, follows the decision on the request context (the interaction,
// the type, the id, the query the Guard may have rewritten), and checks
// what only it can see, the stored resource, against the decision before
// it changes it. It is safe for concurrent use.
type Store struct {
	mu   sync.RWMutex
	st   state
	base string           // the FHIR base URL, for fullUrl, Location and links
	now  func() time.Time // the clock of lastUpdated

	started time.Time // the CapabilityStatement's date

	bulk bulkJobs // Bulk Data export jobs (export.go)
}

// state is everything the store holds; a transaction works on it and
// puts back a copy taken before when an entry fails.
type state struct {
	res map[string]map[string]*record // type → id → resource
	log []change                      // every version of every resource, oldest first
}

// record is one resource: its versions, the last one current.
type record struct {
	typ, id  string
	versions []version
}

// version is one version of a resource.
type version struct {
	vid    int
	body   []byte // nil for a delete
	at     time.Time
	method string // POST, PUT, PATCH or DELETE, for history
}

// change names one version, for system and type history.
type change struct {
	typ, id string
	n       int // index in versions
}

func (r *record) current() version { return r.versions[len(r.versions)-1] }

func (r *record) live() bool { return r != nil && r.current().body != nil }

// clone returns a copy of st that shares no slice or map with it that a
// write would change.
func (st *state) clone() state {
	c := state{res: make(map[string]map[string]*record, len(st.res)), log: slices.Clip(slices.Clone(st.log))}
	for typ, byID := range st.res {
		m := make(map[string]*record, len(byID))
		for id, r := range byID {
			m[id] = &record{typ: r.typ, id: r.id, versions: slices.Clip(slices.Clone(r.versions))}
		}
		c.res[typ] = m
	}
	return c
}

// New returns a Store for the FHIR base URL base, holding the sample data
// (Seed).
func New(base string) (*Store, error) { return newStore(base, append(Seed(), cohort()), time.Now) }

func newStore(base string, resources []json.RawMessage, now func() time.Time) (*Store, error) {
	u, err := url.Parse(base)
	if err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("fhirstore: base %q is not an absolute URL", base)
	}
	s := &Store{st: state{res: map[string]map[string]*record{}}, base: strings.TrimSuffix(base, "/"), now: now, started: now()}
	for _, r := range resources {
		v, err := decodeJSON(r)
		m, ok := v.(map[string]any)
		if err != nil || !ok {
			return nil, fmt.Errorf("fhirstore: sample resource is not a JSON object: %v", err)
		}
		typ, _ := m["resourceType"].(string)
		id, _ := m["id"].(string)
		if !scope.IsR4Type(typ) || !smartctx.ValidID(id) {
			return nil, fmt.Errorf("fhirstore: sample resource %s/%s has no R4 type or id", typ, id)
		}
		s.writeL(typ, id, m, http.MethodPut)
	}
	return s, nil
}

// writeL stores m as the next version of typ/id. The caller holds the
// write lock.
func (s *Store) writeL(typ, id string, m map[string]any, method string) version {
	byID := s.st.res[typ]
	if byID == nil {
		byID = map[string]*record{}
		s.st.res[typ] = byID
	}
	r := byID[id]
	if r == nil {
		r = &record{typ: typ, id: id}
		byID[id] = r
	}
	vid := 1
	if len(r.versions) > 0 {
		vid = r.current().vid + 1
	}
	v := version{vid: vid, at: s.now(), method: method}
	stamp(m, id, vid, v.at)
	v.body = encode(m)
	r.versions = append(r.versions, v)
	s.st.log = append(s.st.log, change{typ: typ, id: id, n: len(r.versions) - 1})
	return v
}

// deleteL records the deletion of r. The caller holds the write lock.
func (s *Store) deleteL(r *record) version {
	v := version{vid: r.current().vid + 1, at: s.now(), method: http.MethodDelete}
	r.versions = append(r.versions, v)
	s.st.log = append(s.st.log, change{typ: r.typ, id: r.id, n: len(r.versions) - 1})
	return v
}

// newIDL returns an id no resource of typ has.
func (s *Store) newIDL(typ string) string {
	for {
		id := strings.ToLower(rand.Text()[:16])
		if s.st.res[typ][id] == nil {
			return id
		}
	}
}

// call is one interaction to run: an HTTP request or a bundle entry, as
// the Guard classified it, with what the store needs of its headers.
type call struct {
	d           *smartctx.Decision
	req         smartctx.Request
	body        []byte
	resource    map[string]any // a bundle entry's resource, encoded into body when it runs
	contentType string         // of a patch
	ifMatch     string
	ifNoneExist string
	ifNoneMatch string
	prefer      string // the return= preference
	newID       string // the id a transaction assigned to a create
}

// result is the answer to a call.
type result struct {
	status   int
	body     []byte // a resource, a Bundle or an OperationOutcome; nil for none
	location string
	vid      int // for the ETag, when > 0
	at       time.Time
}

// failed returns the result for err: its status and OperationOutcome.
func failed(err error) result {
	var b *badRequest
	if !errors.As(err, &b) {
		b = fail(http.StatusInternalServerError, "exception", "%v", err)
	}
	return result{status: b.status, body: outcomeJSON("error", b.code, b.msg)}
}

// ServeHTTP answers a request the Guard let through, by the decision it
// put on the context.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			log.Printf("fhirstore: %s %s: panic: %v", r.Method, r.URL.Path, v)
			writeResult(w, failed(fmt.Errorf("internal error")))
		}
	}()
	d, ok := smartctx.DecisionFromContext(r.Context())
	if !ok {
		writeResult(w, failed(fail(http.StatusInternalServerError, "exception", "no authorization decision on the request")))
		return
	}
	if d.Request().Interaction == scope.InteractionCapabilities {
		s.Metadata(nil).ServeHTTP(w, r)
		return
	}
	if s.serveExport(w, r, d) {
		return
	}
	c := &call{d: d, req: d.Request(), ifMatch: r.Header.Get("If-Match"), ifNoneExist: r.Header.Get("If-None-Exist"),
		ifNoneMatch: r.Header.Get("If-None-Match"), prefer: preference(r.Header.Get("Prefer"))}
	c.contentType, _, _ = mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		switch {
		case err != nil:
			writeResult(w, failed(fail(http.StatusBadRequest, "structure", "the body could not be read")))
			return
		case len(body) > maxBody:
			writeResult(w, failed(fail(http.StatusRequestEntityTooLarge, "too-costly", "the body is larger than %d bytes", maxBody)))
			return
		}
		c.body = body
	}
	writeResult(w, s.do(c))
}

// preference returns the return= preference of a Prefer header:
// "minimal", "representation" (the default) or "OperationOutcome".
func preference(h string) string {
	for p := range strings.SplitSeq(h, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "return="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func writeResult(w http.ResponseWriter, res result) {
	h := w.Header()
	if res.vid > 0 {
		h.Set("ETag", etag(res.vid))
		h.Set("Last-Modified", res.at.UTC().Format(http.TimeFormat))
	}
	if res.location != "" {
		h.Set("Location", res.location)
	}
	if res.body == nil {
		w.WriteHeader(res.status)
		return
	}
	h.Set("Content-Type", "application/fhir+json")
	h.Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	w.Write(res.body)
}

// do runs c under the lock its interaction needs.
func (s *Store) do(c *call) result {
	switch c.req.Interaction {
	case scope.InteractionCreate, scope.InteractionUpdate, scope.InteractionPatch, scope.InteractionDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.run(c)
	case scope.InteractionBatch, scope.InteractionTransaction:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.bundleL(c)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.run(c)
}

// run runs c; the caller holds the lock c needs.
func (s *Store) run(c *call) result {
	var res result
	var err error
	switch c.req.Interaction {
	case scope.InteractionRead:
		res, err = s.readL(c)
	case scope.InteractionVRead:
		res, err = s.vreadL(c)
	case scope.InteractionHistoryInstance, scope.InteractionHistoryType, scope.InteractionHistorySystem:
		res, err = s.historyL(c)
	case scope.InteractionSearchType, scope.InteractionSearchSystem:
		res, err = s.searchL(c)
	case scope.InteractionCreate:
		res, err = s.createL(c)
	case scope.InteractionUpdate:
		res, err = s.updateL(c)
	case scope.InteractionPatch:
		res, err = s.patchL(c)
	case scope.InteractionDelete:
		res, err = s.deleteByL(c)
	case scope.InteractionOperation:
		res, err = s.operationL(c)
	default:
		err = fail(http.StatusBadRequest, "not-supported", "the demo server does not do %s here", c.req.Interaction)
	}
	if err != nil {
		return failed(err)
	}
	return res
}

// url returns the absolute URL of rel, a path under the base ("" for
// the base itself).
func (s *Store) url(rel string) string {
	if rel == "" {
		return s.base
	}
	return s.base + "/" + rel
}

// permitted checks a stored resource against the decision before the
// store changes it (the Guard checks it too, with a read before the
// write; this check runs under the store's lock, so that nothing changes
// in between).
func permitted(d *smartctx.Decision, stored []byte) error {
	if !d.Restricted() {
		return nil
	}
	if ok, err := smartmw.Permits(d, stored); err != nil || !ok {
		return fail(http.StatusForbidden, "forbidden", "the token does not allow this resource")
	}
	return nil
}
