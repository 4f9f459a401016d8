package fhirstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
)

// jsonPatch is the media type of the patches the store applies.
const jsonPatch = "application/json-patch+json"

// patchOp is one operation of a JSON Patch (RFC 6902).
type patchOp struct {
	op       string
	path     []string // a JSON Pointer (RFC 6901), decoded
	from     []string
	value    any
	hasValue bool
}

// errConflict is a patch that does not apply to the document: a path
// that is not there, a failed test (RFC 5789 answers it with 409).
var errConflict = errors.New("the patch does not apply")

// parsePatch reads a JSON Patch document.
func parsePatch(body []byte) ([]patchOp, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("a JSON Patch is an array of operations")
	}
	ops := make([]patchOp, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("operation %d is not an object", i)
		}
		var op patchOp
		op.op, _ = m["op"].(string)
		p, ok := m["path"].(string)
		if !ok {
			return nil, fmt.Errorf("operation %d has no path", i)
		}
		if op.path, err = parsePointer(p); err != nil {
			return nil, fmt.Errorf("operation %d: %w", i, err)
		}
		op.value, op.hasValue = m["value"]
		switch op.op {
		case "add", "replace", "test":
			if !op.hasValue {
				return nil, fmt.Errorf("operation %d (%s) has no value", i, op.op)
			}
		case "remove":
		case "move", "copy":
			f, ok := m["from"].(string)
			if !ok {
				return nil, fmt.Errorf("operation %d (%s) has no from", i, op.op)
			}
			if op.from, err = parsePointer(f); err != nil {
				return nil, fmt.Errorf("operation %d: %w", i, err)
			}
		default:
			return nil, fmt.Errorf("operation %d: unknown op %q", i, op.op)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// parsePointer decodes a JSON Pointer: "" is the whole document.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("JSON Pointer %q does not start with /", p)
	}
	tokens := strings.Split(p[1:], "/")
	for i, t := range tokens {
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 == len(t) || t[j+1] != '0' && t[j+1] != '1') {
				return nil, fmt.Errorf("JSON Pointer %q has a bad escape", p)
			}
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// maxCopied bounds the JSON values a patch's copy operations may add
// in all: each copy can double the document.
const maxCopied = 1 << 16

// errTooLarge is a patch whose copies would make the document too large.
var errTooLarge = errors.New("the patch copies too much")

// size counts the JSON values in v, up to limit.
func size(v any, limit int) int {
	n := 1
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			if n += size(e, limit-n); n > limit {
				return n
			}
		}
	case []any:
		for _, e := range v {
			if n += size(e, limit-n); n > limit {
				return n
			}
		}
	}
	return n
}

// applyPatch applies ops to doc in order and returns the result; doc is
// changed in place. An error wrapping errConflict means an operation
// does not apply; errTooLarge, that its copies grow the document beyond
// maxCopied values.
func applyPatch(doc any, ops []patchOp) (any, error) {
	var err error
	copied := 0
	for i, op := range ops {
		switch op.op {
		case "add":
			doc, err = add(doc, op.path, deepCopy(op.value))
		case "remove":
			doc, _, err = remove(doc, op.path)
		case "replace":
			if len(op.path) == 0 {
				doc = deepCopy(op.value)
			} else if _, err = get(doc, op.path); err == nil {
				if doc, _, err = remove(doc, op.path); err == nil {
					doc, err = add(doc, op.path, deepCopy(op.value))
				}
			}
		case "move":
			if isPrefix(op.from, op.path) && len(op.from) < len(op.path) {
				err = fmt.Errorf("%w: cannot move a value into itself", errConflict)
				break
			}
			var v any
			if doc, v, err = remove(doc, op.from); err == nil {
				doc, err = add(doc, op.path, v)
			}
		case "copy":
			var v any
			if v, err = get(doc, op.from); err == nil {
				if copied += size(v, maxCopied); copied > maxCopied {
					err = errTooLarge
					break
				}
				doc, err = add(doc, op.path, deepCopy(v))
			}
		case "test":
			var v any
			if v, err = get(doc, op.path); err == nil && !equalJSON(v, op.value) {
				err = fmt.Errorf("%w: the value is not the one tested", errConflict)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("operation %d (%s): %w", i, op.op, err)
		}
	}
	return doc, nil
}

func isPrefix(p, q []string) bool {
	if len(p) > len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// index reads an array index token: digits without a leading zero.
func index(tok string, n int, allowEnd bool) (int, error) {
	if allowEnd && tok == "-" {
		return n, nil
	}
	i, err := strconv.Atoi(tok)
	max := n - 1
	if allowEnd {
		max = n
	}
	if err != nil || tok == "" || tok[0] == '+' || tok[0] == '-' || len(tok) > 1 && tok[0] == '0' || i < 0 || i > max {
		return 0, fmt.Errorf("%w: no array index %q", errConflict, tok)
	}
	return i, nil
}

// get returns the value at path.
func get(doc any, path []string) (any, error) {
	for _, tok := range path {
		switch node := doc.(type) {
		case map[string]any:
			v, ok := node[tok]
			if !ok {
				return nil, fmt.Errorf("%w: no member %q", errConflict, tok)
			}
			doc = v
		case []any:
			i, err := index(tok, len(node), false)
			if err != nil {
				return nil, err
			}
			doc = node[i]
		default:
			return nil, fmt.Errorf("%w: %q is inside a value that has no members", errConflict, tok)
		}
	}
	return doc, nil
}

// edit applies leaf to the container holding the last token of path and
// returns the document with the container it returns put in place.
func edit(doc any, path []string, leaf func(container any, tok string) (any, error)) (any, error) {
	if len(path) == 1 {
		return leaf(doc, path[0])
	}
	child, err := get(doc, path[:1])
	if err != nil {
		return nil, err
	}
	child, err = edit(child, path[1:], leaf)
	if err != nil {
		return nil, err
	}
	switch node := doc.(type) {
	case map[string]any:
		node[path[0]] = child
	case []any:
		i, _ := index(path[0], len(node), false) // get checked it
		node[i] = child
	}
	return doc, nil
}

func add(doc any, path []string, v any) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	return edit(doc, path, func(container any, tok string) (any, error) {
		switch node := container.(type) {
		case map[string]any:
			node[tok] = v
			return node, nil
		case []any:
			i, err := index(tok, len(node), true)
			if err != nil {
				return nil, err
			}
			node = append(node, nil)
			copy(node[i+1:], node[i:])
			node[i] = v
			return node, nil
		}
		return nil, fmt.Errorf("%w: cannot add %q to a value that has no members", errConflict, tok)
	})
}

func remove(doc any, path []string) (any, any, error) {
	if len(path) == 0 {
		return nil, nil, fmt.Errorf("%w: cannot remove the whole resource", errConflict)
	}
	var removed any
	doc, err := edit(doc, path, func(container any, tok string) (any, error) {
		switch node := container.(type) {
		case map[string]any:
			v, ok := node[tok]
			if !ok {
				return nil, fmt.Errorf("%w: no member %q", errConflict, tok)
			}
			removed = v
			delete(node, tok)
			return node, nil
		case []any:
			i, err := index(tok, len(node), false)
			if err != nil {
				return nil, err
			}
			removed = node[i]
			return append(node[:i:i], node[i+1:]...), nil
		}
		return nil, fmt.Errorf("%w: %q is inside a value that has no members", errConflict, tok)
	})
	return doc, removed, err
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// equalJSON compares two decoded JSON values as RFC 6902's test does:
// numbers by value, objects regardless of member order.
func equalJSON(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		ba, ok := b.([]any)
		if !ok || len(a) != len(ba) {
			return false
		}
		for i := range a {
			if !equalJSON(a[i], ba[i]) {
				return false
			}
		}
		return true
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, ok1 := new(big.Rat).SetString(string(a))
		y, ok2 := new(big.Rat).SetString(string(bn))
		return ok1 && ok2 && x.Cmp(y) == 0
	}
	return a == b // string, bool, nil
}

// patchL applies a JSON Patch to a resource by id or, conditionally, to
// the one resource the search finds (none: 404; several: 412). A patch
// that does not apply is 409; one whose result is not the same resource
// (another resourceType or id, not an object) is 422.
func (s *Store) patchL(c *call) (result, error) {
	typ := c.req.Type
	if c.contentType != jsonPatch {
		return result{}, fail(http.StatusUnsupportedMediaType, "not-supported", "the demo server applies JSON Patch (%s) only", jsonPatch)
	}
	ops, err := parsePatch(c.body)
	if err != nil {
		return result{}, fail(http.StatusBadRequest, "structure", "not a JSON Patch: %v", err)
	}
	var r *record
	if c.req.Conditional {
		matches, err := s.matchL(typ, c.req.Query)
		if err != nil {
			return result{}, err
		}
		switch len(matches) {
		case 0:
			return result{}, fail(http.StatusNotFound, "not-found", "no %s matches the search", typ)
		case 1:
			r = matches[0]
		default:
			return result{}, fail(http.StatusPreconditionFailed, "multiple-matches",
				"the search matches %d resources: the criteria are not selective enough", len(matches))
		}
	} else {
		r = s.st.res[typ][c.req.ID]
		if r == nil {
			return result{}, fail(http.StatusNotFound, "not-found", "%s/%s is not known", typ, c.req.ID)
		}
		if !r.live() {
			return result{}, fail(http.StatusGone, "deleted", "%s/%s was deleted", typ, c.req.ID)
		}
	}
	if err := checkIfMatch(c.ifMatch, r); err != nil {
		return result{}, err
	}
	if err := permitted(c.d, r.current().body); err != nil {
		return result{}, err
	}
	doc, err := decodeJSON(r.current().body)
	if err != nil {
		return result{}, err
	}
	out, err := applyPatch(doc, ops)
	switch {
	case errors.Is(err, errTooLarge):
		return result{}, fail(http.StatusUnprocessableEntity, "too-costly", "%v", err)
	case err != nil:
		return result{}, fail(http.StatusConflict, "conflict", "%v", err)
	}
	m, ok := out.(map[string]any)
	if !ok {
		return result{}, fail(http.StatusUnprocessableEntity, "processing", "the patched document is not a resource")
	}
	if rt, _ := m["resourceType"].(string); rt != typ {
		return result{}, fail(http.StatusUnprocessableEntity, "processing", "a patch cannot change the resourceType")
	}
	if id, _ := m["id"].(string); id != r.id {
		return result{}, fail(http.StatusUnprocessableEntity, "processing", "a patch cannot change the id")
	}
	if _, err := parseResource(encode(m), typ); err != nil {
		return result{}, fail(http.StatusUnprocessableEntity, "processing", "the patched resource is not valid: %v", err)
	}
	v := s.writeL(typ, r.id, m, http.MethodPatch)
	return s.written(c, http.StatusOK, typ, r.id, v), nil
}
