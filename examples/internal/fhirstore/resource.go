package fhirstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	smartctx "github.com/smartguard/smartguard/context"
)

// maxDepth bounds the nesting of a JSON document the store decodes.
const maxDepth = 100

// errJSON is a body that is not a JSON value the store accepts.
var errJSON = errors.New("not well-formed JSON")

// decodeJSON decodes one JSON value, numbers kept as json.Number (so
// that 7.10 stays 7.10), objects as map[string]any. It refuses an object
// with a key given twice, also in another case ("subject" and "Subject"):
// the guard in front reads such a body one way, and the store must not
// read it another.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the value", errJSON)
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errJSON, maxDepth)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errJSON, err)
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			folded := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: %v", errJSON, err)
				}
				k := kt.(string) // the decoder only yields strings here
				f := fold(k)
				if folded[f] {
					return nil, fmt.Errorf("%w: key %q given twice", errJSON, k)
				}
				folded[f] = true
				if m[k], err = decodeValue(dec, depth+1); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %v", errJSON, err)
			}
			return m, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %v", errJSON, err)
			}
			return a, nil
		}
		return nil, fmt.Errorf("%w: unexpected %v", errJSON, t)
	default:
		return t, nil // string, json.Number, bool, nil
	}
}

// fold maps a key to one representative of the keys equal to it under
// Unicode simple case folding.
func fold(key string) string {
	var b strings.Builder
	for _, r := range key {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// badRequest is a request the store refuses with an OperationOutcome;
// see fail.
type badRequest struct {
	status int
	code   string // the OperationOutcome issue code
	msg    string
}

func (e *badRequest) Error() string { return e.msg }

// fail returns a *badRequest.
func fail(status int, code, format string, args ...any) *badRequest {
	return &badRequest{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// parseResource decodes a resource body of type typ: a JSON object whose
// resourceType is typ, whose id (if any) is a FHIR id and whose meta (if
// any) is an object. Anything else is a 400.
func parseResource(body []byte, typ string) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fail(400, "required", "the request needs a %s resource body", typ)
	}
	v, err := decodeJSON(body)
	if err != nil {
		return nil, fail(400, "structure", "the body is not a FHIR JSON resource: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fail(400, "structure", "the body is not a JSON object")
	}
	if rt, _ := m["resourceType"].(string); rt != typ {
		return nil, fail(400, "invalid", "the body's resourceType must be %s", typ)
	}
	if id, has := m["id"]; has {
		if s, ok := id.(string); !ok || !smartctx.ValidID(s) {
			return nil, fail(400, "invalid", "the body's id is not a FHIR id")
		}
	}
	if meta, has := m["meta"]; has {
		if _, ok := meta.(map[string]any); !ok {
			return nil, fail(400, "invalid", "the body's meta is not an object")
		}
	}
	return m, nil
}

// instant formats t as a FHIR instant, in UTC to the millisecond.
func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// stamp sets the id and the meta.versionId and meta.lastUpdated of m,
// keeping the rest of its meta.
func stamp(m map[string]any, id string, vid int, at time.Time) {
	m["id"] = id
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.Itoa(vid)
	meta["lastUpdated"] = instant(at)
	m["meta"] = meta
}

// keyOrder is the order of the members encode writes first, the way
// FHIR JSON is usually shown; the others follow in alphabetical order.
var keyOrder = map[string]int{"resourceType": 0, "id": 1, "meta": 2, "type": 3, "total": 4, "link": 5, "entry": 6,
	"fullUrl": 7, "resource": 8, "search": 9, "request": 10, "response": 11, "system": 12, "code": 13, "display": 14}

// encode writes v as JSON without HTML escaping, members in keyOrder.
func encode(v any) []byte {
	var b bytes.Buffer
	encodeTo(&b, v)
	return b.Bytes()
}

func encodeTo(b *bytes.Buffer, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		n := b.Len()
		if err := enc.Encode(v); err != nil {
			b.Truncate(n)
			b.WriteString("null") // never: values come from decodeJSON or the store
			return
		}
		b.Truncate(b.Len() - 1) // the Encoder's newline
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		if r, ok := keyOrder[k]; ok {
			return r
		}
		return len(keyOrder)
	}
	slices.SortFunc(keys, func(a, c string) int {
		if ra, rc := rank(a), rank(c); ra != rc {
			return ra - rc
		}
		return strings.Compare(a, c)
	})
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		encodeTo(b, k)
		b.WriteByte(':')
		encodeTo(b, m[k])
	}
	b.WriteByte('}')
}

// outcomeJSON is an OperationOutcome with one issue.
func outcomeJSON(severity, code, msg string) []byte {
	return encode(map[string]any{"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{"severity": severity, "code": code, "diagnostics": msg}}})
}

// etag is the weak ETag of version vid.
func etag(vid int) string { return `W/"` + strconv.Itoa(vid) + `"` }

// matchesETag reports whether an If-Match value names version vid: "*",
// or a list of ETags, weak or strong, one of which is vid.
func matchesETag(ifMatch string, vid int) bool {
	for tag := range strings.SplitSeq(ifMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			return true
		}
		tag = strings.TrimPrefix(tag, "W/")
		if v, err := strconv.Unquote(tag); err == nil && v == strconv.Itoa(vid) {
			return true
		}
	}
	return false
}
