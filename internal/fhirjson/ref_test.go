package fhirjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// This file holds a slow reference for Scan built on encoding/json, in the
// way the guard read bodies before: a Decoder's tokens for each object the
// guard reads, json.Unmarshal for its strings and arrays.

// kv is one member of an object, its value as encoding/json reads it.
type kv struct {
	key   string
	value json.RawMessage
}

// refMembers decodes the members of the object in raw, in order.
func refMembers(raw []byte) ([]kv, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var out []kv
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return nil, false
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return nil, false
		}
		out = append(out, kv{key, v})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return out, true
}

// refFold maps key to one representative of the keys equal to it under
// Unicode simple case folding.
func refFold(key string) string {
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

// refPick returns the values of the members named in names (nil when
// absent); ok is false when one is given twice or another key folds to
// it.
func refPick(m []kv, names ...string) (vals []json.RawMessage, ok bool) {
	vals = make([]json.RawMessage, len(names))
	for _, member := range m {
		for i, name := range names {
			switch {
			case member.key == name && vals[i] != nil:
				return nil, false
			case member.key == name:
				vals[i] = member.value
			case refFold(member.key) == refFold(name):
				return nil, false
			}
		}
	}
	return vals, true
}

// refText decodes a string member, "" when absent or null.
func refText(raw json.RawMessage) (string, bool) {
	var s string
	return s, raw == nil || json.Unmarshal(raw, &s) == nil
}

type refEntry struct {
	raw, resource json.RawMessage
	presence      fhirjson.Presence
	typ, mode     string
}

type refResult struct {
	err      error // nil, ErrSyntax or ErrUnreadable: depth is not modelled
	typ      string
	bundleOK bool
	btype    string
	total    json.RawMessage
	entries  []refEntry
}

// reference reads body as Scan and Resource.Bundle should.
func reference(body []byte) refResult {
	if !json.Valid(body) {
		return refResult{err: fhirjson.ErrSyntax}
	}
	top, ok := refMembers(body)
	if !ok {
		return refResult{err: fhirjson.ErrUnreadable}
	}
	rt, ok := refPick(top, "resourceType")
	if !ok {
		return refResult{err: fhirjson.ErrUnreadable}
	}
	var r refResult
	if r.typ, ok = refText(rt[0]); !ok {
		return refResult{err: fhirjson.ErrUnreadable}
	}
	if r.typ != "Bundle" {
		return r
	}
	r.entries, r.bundleOK = nil, false
	v, ok := refPick(top, "type", "total", "entry")
	if !ok {
		return r
	}
	if r.btype, ok = refText(v[0]); !ok {
		return r
	}
	r.total = v[1]
	var raws []json.RawMessage
	if v[2] != nil && json.Unmarshal(v[2], &raws) != nil {
		return r
	}
	for _, raw := range raws {
		e := refEntry{raw: raw}
		m, ok := refMembers(raw)
		if !ok {
			return r
		}
		ev, ok := refPick(m, "resource", "search")
		if !ok {
			return r
		}
		switch e.resource = ev[0]; {
		case ev[0] == nil:
		case string(ev[0]) == "null":
			e.presence = fhirjson.Null
		default:
			e.presence = fhirjson.Present
			res, ok := refMembers(ev[0])
			if !ok {
				return r
			}
			t, ok := refPick(res, "resourceType")
			if !ok {
				return r
			}
			if e.typ, ok = refText(t[0]); !ok {
				return r
			}
		}
		if ev[1] != nil {
			search, ok := refMembers(ev[1])
			if !ok {
				return r
			}
			mode, ok := refPick(search, "mode")
			if !ok {
				return r
			}
			if e.mode, ok = refText(mode[0]); !ok {
				return r
			}
		}
		r.entries = append(r.entries, e)
	}
	r.bundleOK = true
	return r
}

// refRewrite returns the value, decoded with encoding/json, of body without
// the entries dropped, with total removed (fhirjson.NoTotal) or set, and
// extra appended, as the guard made it with encoding/json before.
func refRewrite(body []byte, drop func(i int) bool, total int, extra []byte) (any, error) {
	var m map[string]any
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	var kept []any
	entries, _ := m["entry"].([]any)
	for i, e := range entries {
		if !drop(i) {
			kept = append(kept, e)
		}
	}
	if extra != nil {
		var x any
		if err := decode(extra, &x); err != nil {
			return nil, err
		}
		kept = append(kept, x)
	}
	if len(kept) == 0 {
		delete(m, "entry")
	} else {
		m["entry"] = kept
	}
	if _, has := m["total"]; has {
		if total == fhirjson.NoTotal {
			delete(m, "total")
		} else {
			m["total"] = json.Number(strconv.Itoa(total))
		}
	}
	return m, nil
}

// decode decodes data into v keeping numbers as written.
func decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// refDepth returns the deepest nesting that a Decoder reads in data
// before its first error.
func refDepth(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth, deepest := 0, 0
	for {
		t, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// refObject reads the object in raw as Members should, the way the guard
// read a bundle entry's request with encoding/json before: the values of
// the members named (nil when absent), refused when two keys are equal
// under case folding or a key folds to a name it is not.
func refObject(raw []byte, names ...string) ([]json.RawMessage, error) {
	if !json.Valid(raw) {
		return nil, fhirjson.ErrSyntax
	}
	m, ok := refMembers(raw)
	if !ok {
		return nil, fhirjson.ErrUnreadable
	}
	seen := map[string]bool{}
	for _, member := range m {
		f := refFold(member.key)
		if seen[f] {
			return nil, fhirjson.ErrUnreadable
		}
		seen[f] = true
	}
	vals, ok := refPick(m, names...)
	if !ok {
		return nil, fhirjson.ErrUnreadable
	}
	return vals, nil
}
