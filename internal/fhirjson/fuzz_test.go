package fhirjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// FuzzScan compares Scan with encoding/json: it refuses what json.Valid
// refuses (or what nests past MaxDepth) and nothing else; what it reads of
// a Bundle is what the encoding/json reference reads; and a rewrite
// decodes to what the reference makes of the body, written or returned.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		string(searchset(3, false)),
		string(searchset(1, true)),
		`{"resourceType":"Patient","id":"1"}`,
		`{"entry":[{"resource":null},{"search":{"mode":"outcome"}}],"total":2,"resourceType":"Bundle"}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation"},"Resource":{}}]}`,
		`{"resourceType":"Bundle","\u0065ntry":[{"resource":{"resourceType":"a\ud800"}}],"Total":1}`,
		"{\"resourceType\":\"Bundle\",\"entry\":[{\"reſource\":{}}],\"x\":\"\xff\"}",
		`[1,-0.5e+3,true,false,null,"\u00e9\"\\\/"]`,
		`{"a":01}`,
	} {
		f.Add([]byte(seed), uint64(0b101), int16(-1), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, dropMask uint64, total int16, withExtra bool) {
		r, err := fhirjson.Scan(body)
		if errors.Is(err, fhirjson.ErrDepth) {
			if d := refDepth(body); d <= fhirjson.MaxDepth {
				t.Fatalf("ErrDepth for a depth of %d", d)
			}
			return
		}
		ref := reference(body)
		if !errors.Is(err, ref.err) || (err == nil) != (ref.err == nil) {
			t.Fatalf("Scan = %v, reference %v", err, ref.err)
		}
		if err != nil {
			return
		}
		if r.Type != ref.typ {
			t.Fatalf("Type = %q, reference %q", r.Type, ref.typ)
		}
		b, err := r.Bundle()
		if (err == nil) != ref.bundleOK {
			t.Fatalf("Bundle: %v, reference reads it: %v", err, ref.bundleOK)
		}
		if err != nil {
			return
		}
		if b.Type != ref.btype || !bytes.Equal(b.Total.Of(body), ref.total) || len(b.Entries) != len(ref.entries) {
			t.Fatalf("type %q, total %q, %d entries; reference %q, %q, %d", b.Type, b.Total.Of(body), len(b.Entries), ref.btype, ref.total, len(ref.entries))
		}
		var drop []int
		for i, e := range b.Entries {
			want := ref.entries[i]
			if !bytes.Equal(e.Span.Of(body), want.raw) || !bytes.Equal(e.Resource.Of(body), want.resource) ||
				e.ResourcePresence != want.presence || e.ResourceType != want.typ || e.SearchMode != want.mode {
				t.Fatalf("entry %d: %+v\nreference %+v", i, e, want)
			}
			if dropMask&(1<<(i%64)) != 0 {
				b.Drop(i)
				drop = append(drop, i)
			}
		}
		var extra []byte
		if withExtra {
			extra = []byte(`{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"suppressed"}]},"search":{"mode":"outcome"}}`)
		}
		out, err := b.Rewrite(max(int(total), fhirjson.NoTotal), extra)
		if err != nil {
			t.Fatal(err)
		}
		if len(drop) == 0 {
			if !bytes.Equal(out, body) {
				t.Fatal("rewritten with nothing dropped")
			}
			return
		}
		checkRewrite(t, body, out, drop, max(int(total), fhirjson.NoTotal), extra)
		checkWriteRewrite(t, b, out, max(int(total), fhirjson.NoTotal), extra)
		if !json.Valid(out) {
			t.Fatalf("Rewrite = %s: not JSON", out)
		}
	})
}

// FuzzMembers compares Members and DecodeString with encoding/json, the
// way the guard read a bundle entry's request before: Members refuses
// what json.Valid refuses (ErrSyntax) or what nests past MaxDepth, and
// what the reference finds unreadable (not an object, keys equal under
// case folding, a key folding to a name); otherwise it finds the values
// the reference finds, and DecodeString decodes them as json.Unmarshal.
func FuzzMembers(f *testing.F) {
	for _, seed := range []string{
		`{"method":"POST","url":"Observation","ifNoneExist":"identifier=1"}`,
		`{"request":{"method":"GET","url":"Patient/1"},"resource":{"resourceType":"Patient"},"fullUrl":"urn:uuid:1"}`,
		`{"method":"GET","Method":"DELETE"}`,
		`{"IfNoneExist":"x","url":null}`,
		`{"a":1,"\u0061":2,"\u212A":3,"k":4}`,
		"{\"\xff\":1,\"\\ufffd\":2,\"url\":\"\\ud800\"}",
		`[1,2]`,
		`{"method":01}`,
		` {"url" : ["x"] } `,
	} {
		f.Add([]byte(seed))
	}
	names := []string{"method", "url", "ifNoneExist", "request", "resource"}
	f.Fuzz(func(t *testing.T, obj []byte) {
		spans, err := fhirjson.Members(obj, names...)
		if errors.Is(err, fhirjson.ErrDepth) {
			if d := refDepth(obj); d <= fhirjson.MaxDepth {
				t.Fatalf("ErrDepth for a depth of %d", d)
			}
			return
		}
		want, refErr := refObject(obj, names...)
		if !errors.Is(err, refErr) || (err == nil) != (refErr == nil) {
			t.Fatalf("Members = %v, reference %v", err, refErr)
		}
		if err != nil {
			return
		}
		for i, s := range spans {
			if !bytes.Equal(s.Of(obj), want[i]) {
				t.Fatalf("%s = %q, reference %q", names[i], s.Of(obj), want[i])
			}
			got, ok := fhirjson.DecodeString(s.Of(obj))
			ref, refOK := refText(want[i])
			if got != ref || ok != refOK {
				t.Fatalf("DecodeString(%s) = %q, %v; reference %q, %v", s.Of(obj), got, ok, ref, refOK)
			}
		}
	})
}
