package fhirjson_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// plan is what a test marks on a Bundle: entries dropped, replaced (by
// the raw JSON given, in pieces) and inserted (before index i; at
// len(Entries) after the last), then Rewrite's total and extra.
type plan struct {
	drop  []int
	repl  map[int][][]byte
	ins   map[int][][]byte
	total int
	extra []byte
}

// apply marks p on b, inserting in order of index.
func (p plan) apply(b *fhirjson.Bundle) {
	for _, i := range p.drop {
		b.Drop(i)
	}
	for i, pieces := range p.repl {
		b.Replace(i, pieces...)
	}
	for i := len(b.Entries); i >= 0; i-- { // out of order on purpose
		for _, raw := range p.ins[i] {
			b.Insert(i, raw)
		}
	}
}

// refEdit returns the value, decoded with encoding/json, of body changed
// as p says (with entries false, only its total), the way the guard made
// it with encoding/json before.
func refEdit(body []byte, p plan, entries bool) (any, error) {
	var m map[string]any
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	if entries {
		old, _ := m["entry"].([]any)
		var kept []any
		add := func(raw []byte) error {
			var x any
			if err := decode(raw, &x); err != nil {
				return fmt.Errorf("%w: %s", err, raw)
			}
			kept = append(kept, x)
			return nil
		}
		for i := 0; i <= len(old); i++ {
			for _, raw := range p.ins[i] {
				if err := add(raw); err != nil {
					return nil, err
				}
			}
			if i == len(old) || slices.Contains(p.drop, i) {
				continue
			}
			if pieces, ok := p.repl[i]; ok {
				if err := add(bytes.Join(pieces, nil)); err != nil {
					return nil, err
				}
				continue
			}
			kept = append(kept, old[i])
		}
		if p.extra != nil {
			if err := add(p.extra); err != nil {
				return nil, err
			}
		}
		if len(kept) == 0 {
			delete(m, "entry")
		} else {
			m["entry"] = kept
		}
	}
	if _, has := m["total"]; has {
		if p.total == fhirjson.NoTotal {
			delete(m, "total")
		} else {
			m["total"] = json.Number(strconv.Itoa(p.total))
		}
	}
	return m, nil
}

// checkEdit rewrites body as p says and checks the result, from Rewrite
// and from WriteRewrite, against refEdit.
func checkEdit(t *testing.T, body []byte, p plan) {
	t.Helper()
	b := scanBundle(t, body)
	p.apply(b)
	out, err := b.Rewrite(p.total, p.extra)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("Rewrite(%s) = %s: not JSON", body, out)
	}
	want, err := refEdit(body, p, b.Edited())
	if err != nil {
		t.Fatal(err)
	}
	if !b.Edited() {
		if !bytes.Equal(out, body) {
			t.Fatalf("rewritten with nothing marked: %s", out)
		}
		return
	}
	var got any
	if err := decode(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Rewrite(%s)\n = %s\ndecodes to %v\nwant %v", body, out, got, want)
	}
	checkWriteRewrite(t, b, out, p.total, p.extra)
}

func TestRewriteReplacesAndInserts(t *testing.T) {
	const (
		a = `{"resource":{"resourceType":"Observation","id":"a"},"response":{"status":"200 OK"}}`
		b = `{"resource":{"resourceType":"Bundle","type":"searchset","total":9,"entry":[]},"response":{"status":"200 OK"}}`
		c = `{"response":{"status":"204 No Content"}}`
	)
	refusal := []byte(`{"response":{"status":"403 Forbidden","outcome":{"resourceType":"OperationOutcome","issue":[]}}}`)
	body := []byte(`{"resourceType":"Bundle","type":"batch-response","total":3,"entry":[` + a + `, ` + b + ` ,` + c + `]}`)
	resourceOf := func(i int) (before, after []byte) {
		e := scanBundle(t, body).Entries[i]
		return body[e.Span.Start:e.Resource.Start], body[e.Resource.End:e.Span.End]
	}
	before, after := resourceOf(1)
	filtered := []byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`)
	for _, tc := range []struct {
		name string
		p    plan
	}{
		{"replace one", plan{repl: map[int][][]byte{0: {refusal}}, total: fhirjson.NoTotal}},
		{"replace a resource in its entry", plan{repl: map[int][][]byte{1: {before, filtered, after}}, total: fhirjson.NoTotal}},
		{"insert first, between, last", plan{ins: map[int][][]byte{0: {refusal}, 2: {refusal, []byte(`{"x":2}`)}, 3: {[]byte(`{"x":3}`)}}, total: fhirjson.NoTotal}},
		{"insert before a dropped entry", plan{drop: []int{1}, ins: map[int][][]byte{1: {refusal}}, total: 5}},
		{"replaced and dropped", plan{drop: []int{0}, repl: map[int][][]byte{0: {refusal}}, total: fhirjson.NoTotal}},
		{"all of it, and extra", plan{drop: []int{2}, repl: map[int][][]byte{0: {refusal}, 1: {before, filtered, after}},
			ins: map[int][][]byte{1: {refusal}, 3: {refusal}}, total: fhirjson.NoTotal, extra: []byte(`{"x":"extra"}`)}},
		{"everything dropped, something inserted", plan{drop: []int{0, 1, 2}, ins: map[int][][]byte{3: {refusal}}, total: fhirjson.NoTotal}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkEdit(t, body, tc.p) })
	}
}

// Entries inserted in a Bundle without "entry" (or with "entry": null)
// get one, with the right commas wherever total, removed or not, sits.
func TestInsertIntoABundleWithoutEntries(t *testing.T) {
	x := []byte(`{"response":{"status":"403 Forbidden"}}`)
	for _, body := range []string{
		`{"resourceType":"Bundle"}`,
		`{ "resourceType" : "Bundle" }`,
		`{"resourceType":"Bundle", "total":0 }`,
		`{"total":0 , "resourceType":"Bundle"}`,
		`{"resourceType":"Bundle","entry":null,"total":1}`,
		`{"entry":[],"total":1,"resourceType":"Bundle"}`,
	} {
		for _, total := range []int{fhirjson.NoTotal, 4} {
			t.Run(fmt.Sprint(body, total), func(t *testing.T) {
				checkEdit(t, []byte(body), plan{ins: map[int][][]byte{0: {x}}, total: total})
			})
		}
	}
}

// total is removed with the right commas wherever it sits, the entries
// left as they are, whatever they are marked with.
func TestWithoutTotal(t *testing.T) {
	members := []string{`"resourceType":"Bundle"`, `"type":"searchset"`, `"total":2`, `"entry":[{"fullUrl":"a"},{"fullUrl":"b"}]`}
	var permute func(k int)
	permute = func(k int) {
		if k == len(members) {
			body := []byte("{" + strings.Join(members, ", ") + "}")
			b := scanBundle(t, body)
			b.Drop(0)
			out := b.WithoutTotal()
			want, err := refEdit(body, plan{total: fhirjson.NoTotal}, false)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := decode(out, &got); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("WithoutTotal(%s) = %s (%v)", body, out, err)
			}
			return
		}
		for i := k; i < len(members); i++ {
			members[k], members[i] = members[i], members[k]
			permute(k + 1)
			members[k], members[i] = members[i], members[k]
		}
	}
	permute(0)
	if out := scanBundle(t, []byte(`{"resourceType":"Bundle","entry":[]}`)).WithoutTotal(); string(out) != `{"resourceType":"Bundle","entry":[]}` {
		t.Errorf("WithoutTotal of a Bundle without total = %s", out)
	}
}

// FuzzEdit compares Rewrite, after Drop, Replace and Insert, and
// WithoutTotal with the encoding/json reference, on any Bundle Scan reads.
func FuzzEdit(f *testing.F) {
	for _, seed := range []string{
		string(searchset(3, false)),
		`{"resourceType":"Bundle","type":"batch-response","entry":[{"resource":{"resourceType":"Bundle"},"response":{}},{"response":{"status":"204"}}]}`,
		`{"resourceType":"Bundle","total":1}`,
		`{"entry":null,"resourceType":"Bundle"}`,
	} {
		f.Add([]byte(seed), uint64(0b10), uint64(0b101), uint64(0b1001), int16(-1), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, dropMask, replMask, insMask uint64, total int16, withExtra bool) {
		r, err := fhirjson.Scan(body)
		if err != nil {
			return
		}
		b, err := r.Bundle()
		if err != nil {
			return
		}
		p := plan{repl: map[int][][]byte{}, ins: map[int][][]byte{}, total: max(int(total), fhirjson.NoTotal)}
		for i, e := range b.Entries {
			bit := uint64(1) << (i % 64)
			if dropMask&bit != 0 {
				p.drop = append(p.drop, i)
			}
			if replMask&bit != 0 {
				if e.Resource.Len() > 0 {
					p.repl[i] = [][]byte{body[e.Span.Start:e.Resource.Start], []byte(fmt.Sprintf(`{"resourceType":"Basic","id":"r%d"}`, i)), body[e.Resource.End:e.Span.End]}
				} else {
					p.repl[i] = [][]byte{[]byte(`{"replaced":`), []byte(strconv.Itoa(i) + `}`)}
				}
			}
		}
		for i := 0; i <= len(b.Entries); i++ {
			if insMask&(1<<(i%64)) != 0 {
				p.ins[i] = [][]byte{[]byte(fmt.Sprintf(`{"inserted":%d}`, i))}
				if i%3 == 0 {
					p.ins[i] = append(p.ins[i], []byte(fmt.Sprintf(`{"inserted":"%d again"}`, i)))
				}
			}
		}
		if withExtra {
			p.extra = []byte(`{"extra":true}`)
		}
		checkEdit(t, body, p)
		fresh, _ := fhirjson.Scan(body)
		fb, _ := fresh.Bundle()
		out := fb.WithoutTotal()
		want, err := refEdit(body, plan{total: fhirjson.NoTotal}, false)
		if err != nil {
			t.Fatal(err)
		}
		var got any
		if err := decode(out, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("WithoutTotal(%s) = %s (%v)", body, out, err)
		}
	})
}

// A second Replace of an entry replaces the first; entries replaced in
// any order are written in theirs.
func TestReplaceAgain(t *testing.T) {
	body := []byte(`{"resourceType":"Bundle","entry":[{"a":0},{"a":1},{"a":2}]}`)
	b := scanBundle(t, body)
	b.Replace(2, []byte(`{"b":2}`))
	b.Replace(0, []byte(`{"b":0}`))
	b.Replace(2, []byte(`{"c":2}`))
	out, err := b.Rewrite(fhirjson.NoTotal, nil)
	if want := `{"resourceType":"Bundle","entry":[{"b":0},{"a":1},{"c":2}]}`; err != nil || string(out) != want {
		t.Errorf("Rewrite = %s, %v; want %s", out, err, want)
	}
}
