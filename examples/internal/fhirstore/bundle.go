package fhirstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/smartguard/smartguard/scope"
)

// bundleEntry is one entry of a batch or transaction Bundle.
type bundleEntry struct {
	fullURL  string
	resource map[string]any // nil when the entry has none
	method   string
}

// parseBundle reads a batch or transaction Bundle.
func parseBundle(body []byte) (kind string, entries []bundleEntry, calls []*call, err error) {
	bad := func(format string, args ...any) error {
		return fail(http.StatusBadRequest, "structure", format, args...)
	}
	v, err := decodeJSON(body)
	if err != nil {
		return "", nil, nil, bad("the body is not a Bundle: %v", err)
	}
	b, _ := v.(map[string]any)
	if rt, _ := b["resourceType"].(string); rt != "Bundle" {
		return "", nil, nil, bad("the body is not a Bundle")
	}
	kind, _ = b["type"].(string)
	if kind != "batch" && kind != "transaction" {
		return "", nil, nil, bad("the Bundle's type must be batch or transaction")
	}
	list, ok := b["entry"].([]any)
	if _, has := b["entry"]; has && !ok {
		return "", nil, nil, bad("the Bundle's entry is not an array")
	}
	for i, item := range list {
		e, _ := item.(map[string]any)
		req, _ := e["request"].(map[string]any)
		method, _ := req["method"].(string)
		if e == nil || method == "" {
			return "", nil, nil, bad("entry %d has no request", i)
		}
		be := bundleEntry{method: method}
		be.fullURL, _ = e["fullUrl"].(string)
		if r, has := e["resource"]; has {
			if be.resource, ok = r.(map[string]any); !ok {
				return "", nil, nil, bad("entry %d: the resource is not an object", i)
			}
		}
		c := &call{}
		c.ifMatch, _ = req["ifMatch"].(string)
		c.ifNoneExist, _ = req["ifNoneExist"].(string)
		c.ifNoneMatch, _ = req["ifNoneMatch"].(string)
		entries = append(entries, be)
		calls = append(calls, c)
	}
	return kind, entries, calls, nil
}

// bundleL runs a batch (each entry on its own, each answered in the
// response) or a transaction (all entries or none, urn:uuid references
// resolved), entry by entry as the Guard decided them. The caller holds
// the write lock.
func (s *Store) bundleL(c *call) result {
	kind, entries, calls, err := parseBundle(c.body)
	if err != nil {
		return failed(err)
	}
	decided := c.d.Entries()
	if len(decided) != len(entries) {
		return failed(fail(http.StatusInternalServerError, "exception", "the bundle was not decided entry by entry"))
	}
	prep := make([]error, len(calls))
	for i, ec := range calls {
		ec.d, ec.req = decided[i], decided[i].Request()
		prep[i] = prepareEntry(ec, entries[i])
	}
	if kind == "transaction" {
		return s.transactionL(entries, calls, prep)
	}
	out := make([]any, len(calls))
	for i, ec := range calls {
		if prep[i] != nil {
			out[i] = responseEntry(failed(prep[i]))
			continue
		}
		if ec.resource != nil {
			ec.body = encode(ec.resource)
		}
		out[i] = responseEntry(s.run(ec))
	}
	return result{status: http.StatusOK, body: encode(map[string]any{"resourceType": "Bundle", "type": "batch-response", "entry": out})}
}

// prepareEntry completes the call of a bundle entry from the entry: the
// resource of a create or update, the JSON Patch of a patch (a Binary, as
// R4 carries patches in bundles).
func prepareEntry(c *call, e bundleEntry) error {
	switch c.req.Interaction {
	case scope.InteractionCreate, scope.InteractionUpdate:
		if e.resource == nil {
			return fail(http.StatusBadRequest, "required", "a %s entry needs a resource", e.method)
		}
		c.resource = e.resource
	case scope.InteractionPatch:
		if rt, _ := e.resource["resourceType"].(string); rt != "Binary" {
			return fail(http.StatusUnsupportedMediaType, "not-supported", "a patch entry must carry its JSON Patch as a Binary")
		}
		ct, _ := e.resource["contentType"].(string)
		c.contentType, _, _ = mime.ParseMediaType(ct)
		data, _ := e.resource["data"].(string)
		body, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return fail(http.StatusBadRequest, "structure", "the Binary's data is not base64")
		}
		c.body = body
	case scope.InteractionBatch, scope.InteractionTransaction:
		return fail(http.StatusBadRequest, "not-supported", "bundles do not nest")
	}
	return nil
}

// responseEntry is the response entry of a batch or transaction for res.
func responseEntry(res result) map[string]any {
	resp := map[string]any{"status": strconv.Itoa(res.status) + " " + http.StatusText(res.status)}
	if res.location != "" {
		resp["location"] = res.location
	}
	if res.vid > 0 {
		resp["etag"] = etag(res.vid)
		resp["lastModified"] = instant(res.at)
	}
	e := map[string]any{"response": resp}
	switch {
	case res.status >= 400:
		resp["outcome"] = json.RawMessage(res.body)
	case res.body != nil:
		e["resource"] = json.RawMessage(res.body)
	}
	return e
}

// phase is the order R4 processes a transaction's entries in: deletes,
// creates, updates and patches, then reads.
func phase(i scope.Interaction) int {
	switch i {
	case scope.InteractionDelete:
		return 0
	case scope.InteractionCreate:
		return 1
	case scope.InteractionUpdate, scope.InteractionPatch:
		return 2
	}
	return 3
}

// transactionL runs a transaction: all its entries, or none. Creates get
// their ids first, so that references to their fullUrl ("urn:uuid:...")
// anywhere in the bundle become "Type/id"; conditional references
// ("Patient?identifier=...") become the one resource they find. Any
// entry that fails puts the store back as it was and answers the
// transaction with that entry's status.
func (s *Store) transactionL(entries []bundleEntry, calls []*call, prep []error) result {
	tx := &transaction{s: s, entries: entries, calls: calls, before: s.st.clone(), results: make([]result, len(calls))}
	for i, err := range prep {
		if err != nil {
			return tx.abort(i, failed(err))
		}
	}
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return phase(calls[a].req.Interaction) - phase(calls[b].req.Interaction) })
	next := 0
	for ; next < len(order) && phase(calls[order[next]].req.Interaction) == 0; next++ {
		if i := order[next]; !tx.run(i) {
			return tx.abort(i, tx.results[i])
		}
	}
	// Ids for the creates, then every reference to an entry resolved.
	refs, i, err := tx.assignIDs()
	if err != nil {
		return tx.abort(i, failed(err))
	}
	for i, c := range calls {
		if c.resource == nil {
			continue
		}
		if err := s.resolveL(c.resource, refs); err != nil {
			return tx.abort(i, failed(err))
		}
	}
	for ; next < len(order); next++ {
		if i := order[next]; !tx.run(i) {
			return tx.abort(i, tx.results[i])
		}
	}
	out := make([]any, len(tx.results))
	for i, res := range tx.results {
		out[i] = responseEntry(res)
	}
	return result{status: http.StatusOK, body: encode(map[string]any{"resourceType": "Bundle", "type": "transaction-response", "entry": out})}
}

// transaction is a transaction Bundle being run; the caller of its
// methods holds the write lock.
type transaction struct {
	s       *Store
	entries []bundleEntry
	calls   []*call
	before  state    // the store as it was, put back by abort
	results []result // of the entries run so far
}

// run runs entry i and reports whether it succeeded.
func (tx *transaction) run(i int) bool {
	c := tx.calls[i]
	if c.resource != nil {
		c.body = encode(c.resource)
	}
	tx.results[i] = tx.s.run(c)
	return tx.results[i].status < 400
}

// abort puts the store back as it was and answers the transaction with
// the status of entry i, which failed with res.
func (tx *transaction) abort(i int, res result) result {
	tx.s.st = tx.before
	msg := http.StatusText(res.status)
	var oo struct {
		Issue []struct{ Diagnostics string } `json:"issue"`
	}
	if json.Unmarshal(res.body, &oo) == nil && len(oo.Issue) > 0 {
		msg = oo.Issue[0].Diagnostics
	}
	code := "processing"
	if res.status == http.StatusPreconditionFailed || res.status == http.StatusConflict {
		code = "conflict"
	}
	return result{status: res.status, body: outcomeJSON("error", code,
		fmt.Sprintf("transaction entry %d (%s %s): %s; nothing was changed", i, tx.entries[i].method, tx.calls[i].req.Type, msg))}
}

// assignIDs gives each create its id (a new one, or that of the one
// resource its ifNoneExist finds, which the create then answers without
// writing) and returns what each entry's fullUrl stands for: "Type/id"
// of a create, or of an update by id. On failure it returns the index of
// the entry that failed.
func (tx *transaction) assignIDs() (refs map[string]string, failedAt int, err error) {
	refs = map[string]string{}
	for i, c := range tx.calls {
		fullURL := tx.entries[i].fullURL
		switch {
		case c.req.Interaction == scope.InteractionCreate:
			id, err := tx.createID(c)
			if err != nil {
				return nil, i, err
			}
			if fullURL != "" {
				refs[fullURL] = c.req.Type + "/" + id
			}
		case c.req.Interaction == scope.InteractionUpdate && !c.req.Conditional && fullURL != "":
			refs[fullURL] = c.req.Type + "/" + c.req.ID
		}
	}
	return refs, 0, nil
}

// createID returns the id of the resource a create entry makes or finds.
func (tx *transaction) createID(c *call) (string, error) {
	if c.ifNoneExist != "" {
		matches, err := tx.s.matchL(c.req.Type, c.ifNoneExist)
		if err != nil {
			return "", err
		}
		switch len(matches) {
		case 0:
		case 1:
			return matches[0].id, nil // createL answers it without writing
		default:
			return "", fail(http.StatusPreconditionFailed, "multiple-matches", "ifNoneExist matches %d resources", len(matches))
		}
	}
	c.newID = tx.s.newIDL(c.req.Type)
	return c.newID, nil
}

// resolveL rewrites, anywhere in v, a "reference" naming an entry of the
// transaction by its fullUrl (refs) or a conditional reference
// ("Type?search") to the one resource it finds. A urn:uuid or urn:oid
// reference that names no entry, and a conditional reference that finds
// none or several, fail the transaction.
func (s *Store) resolveL(v any, refs map[string]string) error {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			ref, ok := e.(string)
			if k != "reference" || !ok {
				if err := s.resolveL(e, refs); err != nil {
					return err
				}
				continue
			}
			if to, ok := refs[ref]; ok {
				v[k] = to
				continue
			}
			if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
				return fail(http.StatusBadRequest, "not-found", "reference %s names no entry of the transaction", ref)
			}
			typ, query, conditional := strings.Cut(ref, "?")
			if !conditional || strings.Contains(typ, "/") || !scope.IsR4Type(typ) {
				continue
			}
			matches, err := s.matchL(typ, query)
			if err != nil {
				return err
			}
			if len(matches) != 1 {
				return fail(http.StatusPreconditionFailed, "multiple-matches",
					"conditional reference %s finds %d resources, not one", ref, len(matches))
			}
			v[k] = typ + "/" + matches[0].id
		}
	case []any:
		for _, e := range v {
			if err := s.resolveL(e, refs); err != nil {
				return err
			}
		}
	}
	return nil
}
