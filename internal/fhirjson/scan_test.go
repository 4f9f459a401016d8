package fhirjson_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// Scan accepts exactly the JSON that json.Valid accepts; a value that is
// not an object is ErrUnreadable.
func TestScanAcceptsWhatValidAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{name: "empty object", body: `{}`},
		{name: "white space around", body: " \t\r\n{ \n} \r\n\t"},
		{name: "escapes", body: `{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`},
		{name: "lone surrogate escape", body: `{"a":"\ud800 and \uDC00"}`},
		{name: "UTF-8", body: `{"a":"é日本😀"}`},
		{name: "invalid UTF-8 in a string", body: "{\"a\":\"\xff\xfe\xc3\"}"},
		{name: "DEL in a string", body: "{\"a\":\"\x7f\"}"},
		{name: "invalid UTF-8 in a key", body: "{\"\xff\":1}"},
		{name: "numbers", body: `{"a":[0,-0,1,-1,10,1.5,-0.5e10,1E+2,1e-2,0.0,123456789012345678901234567890]}`},
		{name: "literals", body: `{"a":[true,false,null]}`},
		{name: "nesting", body: `{"a":[[],{},[{}],{"b":[1,{"c":null}]},[[[[]]]]]}`},
		{name: "pretty", body: "{\n  \"a\" : [ 1 , \"x\" ] ,\n  \"b\" : { }\n}\n"},

		{name: "nothing", body: ``, want: fhirjson.ErrSyntax},
		{name: "only space", body: "  \n", want: fhirjson.ErrSyntax},
		{name: "open object", body: `{`, want: fhirjson.ErrSyntax},
		{name: "close only", body: `}`, want: fhirjson.ErrSyntax},
		{name: "key without value", body: `{"a"}`, want: fhirjson.ErrSyntax},
		{name: "colon without value", body: `{"a":}`, want: fhirjson.ErrSyntax},
		{name: "trailing comma in object", body: `{"a":1,}`, want: fhirjson.ErrSyntax},
		{name: "lone comma", body: `{,}`, want: fhirjson.ErrSyntax},
		{name: "missing comma", body: `{"a":1 "b":2}`, want: fhirjson.ErrSyntax},
		{name: "trailing comma in array", body: `{"a":[1,]}`, want: fhirjson.ErrSyntax},
		{name: "leading comma in array", body: `{"a":[,1]}`, want: fhirjson.ErrSyntax},
		{name: "leading zero", body: `{"a":01}`, want: fhirjson.ErrSyntax},
		{name: "dot without digits", body: `{"a":1.}`, want: fhirjson.ErrSyntax},
		{name: "dot first", body: `{"a":.5}`, want: fhirjson.ErrSyntax},
		{name: "minus alone", body: `{"a":-}`, want: fhirjson.ErrSyntax},
		{name: "exponent without digits", body: `{"a":1e}`, want: fhirjson.ErrSyntax},
		{name: "signed exponent without digits", body: `{"a":1e+}`, want: fhirjson.ErrSyntax},
		{name: "plus sign", body: `{"a":+1}`, want: fhirjson.ErrSyntax},
		{name: "hex", body: `{"a":0x1}`, want: fhirjson.ErrSyntax},
		{name: "short true", body: `{"a":tru}`, want: fhirjson.ErrSyntax},
		{name: "short null at the end", body: `{"a":nul`, want: fhirjson.ErrSyntax},
		{name: "capital True", body: `{"a":True}`, want: fhirjson.ErrSyntax},
		{name: "bad escape", body: `{"a":"\x"}`, want: fhirjson.ErrSyntax},
		{name: "short unicode escape", body: `{"a":"\u12"}`, want: fhirjson.ErrSyntax},
		{name: "bad hex in escape", body: `{"a":"\u12G4"}`, want: fhirjson.ErrSyntax},
		{name: "control byte", body: "{\"a\":\"\x01\"}", want: fhirjson.ErrSyntax},
		{name: "raw tab in a string", body: "{\"a\":\"a\tb\"}", want: fhirjson.ErrSyntax},
		{name: "raw newline in a key", body: "{\"a\nb\":1}", want: fhirjson.ErrSyntax},
		{name: "unterminated string", body: `{"a":"abc`, want: fhirjson.ErrSyntax},
		{name: "escaped quote at the end", body: `{"a":"abc\"}`, want: fhirjson.ErrSyntax},
		{name: "trailing data", body: `{"a":1}x`, want: fhirjson.ErrSyntax},
		{name: "two objects", body: `{}{}`, want: fhirjson.ErrSyntax},
		{name: "single quotes", body: `{'a':1}`, want: fhirjson.ErrSyntax},
		{name: "bare key", body: `{a:1}`, want: fhirjson.ErrSyntax},
		{name: "NUL after", body: "{}\x00", want: fhirjson.ErrSyntax},
		{name: "no-break space after", body: "{}\u00a0", want: fhirjson.ErrSyntax},
		{name: "byte order mark", body: "\ufeff{}", want: fhirjson.ErrSyntax},
		{name: "array closed by brace", body: `{"a":[}`, want: fhirjson.ErrSyntax},
		{name: "object closed by bracket", body: `{"a":{]}`, want: fhirjson.ErrSyntax},
		{name: "bad value in a Bundle entry", body: `{"resourceType":"Bundle","entry":[{"resource":{"a":01}}]}`, want: fhirjson.ErrSyntax},
		{name: "bad value in a resourceType", body: `{"resourceType":"\q"}`, want: fhirjson.ErrSyntax},

		{name: "array", body: `[]`, want: fhirjson.ErrUnreadable},
		{name: "string", body: `"x"`, want: fhirjson.ErrUnreadable},
		{name: "number", body: `1`, want: fhirjson.ErrUnreadable},
		{name: "null", body: `null`, want: fhirjson.ErrUnreadable},
		{name: "resource in an array", body: ` [ {"resourceType":"Patient"} ] `, want: fhirjson.ErrUnreadable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if json.Valid([]byte(tc.body)) == (tc.want == fhirjson.ErrSyntax) {
				t.Fatalf("premise: json.Valid = %v", json.Valid([]byte(tc.body)))
			}
			r, err := fhirjson.Scan([]byte(tc.body))
			if !errors.Is(err, tc.want) || (err == nil) != (r != nil) {
				t.Fatalf("Scan = %v, %v; want %v", r, err, tc.want)
			}
		})
	}
}

// The string scanner reads eight bytes at a time: a quote, a backslash or
// a control byte is found at every offset, in strings of every length
// around the word size.
func TestScanFindsStringEndsAtEveryOffset(t *testing.T) {
	for n := range 26 {
		for k := range n {
			for _, c := range []string{`"`, `\\`, `\"`, `\u0041`, "\x1f", "\x80", "\xff"} {
				s := strings.Repeat("a", k) + c + strings.Repeat("b", n-k)
				body := []byte(`{"k":"` + s + `","x":1}`)
				_, err := fhirjson.Scan(body)
				if valid := json.Valid(body); valid != (err == nil) {
					t.Fatalf("Scan(%q) = %v, json.Valid = %v", body, err, valid)
				}
			}
		}
	}
}

func TestScanReadsResourceType(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
		err  error
	}{
		{name: "plain", body: `{"resourceType":"Patient","id":"1"}`, want: "Patient"},
		{name: "not first", body: `{"id":"1","resourceType":"Patient"}`, want: "Patient"},
		{name: "escaped key", body: `{"resource\u0054ype":"Patient"}`, want: "Patient"},
		{name: "escaped value", body: `{"resourceType":"Pati\u0065nt"}`, want: "Patient"},
		{name: "null", body: `{"resourceType":null}`, want: ""},
		{name: "absent", body: `{"id":"1"}`, want: ""},
		{name: "nested ones ignored", body: `{"a":{"resourceType":"X","ResourceType":"Y"},"resourceType":"Patient"}`, want: "Patient"},
		{name: "other non-ASCII keys", body: `{"ñ":1,"\u212a":2,"resourceType":"Patient"}`, want: "Patient"},
		{name: "invalid UTF-8 read as U+FFFD", body: "{\"resourceType\":\"Pat\xffent\"}", want: "Pat\uFFFDent"},
		{name: "lone surrogate read as U+FFFD", body: `{"resourceType":"a\ud800b"}`, want: "a\uFFFDb"},
		{name: "surrogate pair", body: `{"resourceType":"\ud83d\ude00"}`, want: "😀"},

		{name: "number", body: `{"resourceType":1}`, err: fhirjson.ErrUnreadable},
		{name: "array", body: `{"resourceType":["Patient"]}`, err: fhirjson.ErrUnreadable},
		{name: "twice", body: `{"resourceType":"Patient","resourceType":"Patient"}`, err: fhirjson.ErrUnreadable},
		{name: "twice, once escaped", body: `{"resourceType":"Patient","resource\u0054ype":"Group"}`, err: fhirjson.ErrUnreadable},
		{name: "capitalised alone", body: `{"ResourceType":"Patient"}`, err: fhirjson.ErrUnreadable},
		{name: "lower case beside", body: `{"resourceType":"Patient","resourcetype":"Bundle"}`, err: fhirjson.ErrUnreadable},
		{name: "long s", body: `{"resourceType":"Patient","reſourceType":"Bundle"}`, err: fhirjson.ErrUnreadable},
		{name: "escaped capital", body: `{"\u0052esourceType":"Bundle"}`, err: fhirjson.ErrUnreadable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := fhirjson.Scan([]byte(tc.body))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Scan = %v, %v; want %v", r, err, tc.err)
				}
				return
			}
			if err != nil || r.Type != tc.want {
				t.Fatalf("Scan = %+v, %v; want type %q", r, err, tc.want)
			}
		})
	}
}

// wantEntry is an entry as a test expects it: spans as the text they
// cover.
type wantEntry struct {
	entry, resource string
	presence        fhirjson.Presence
	typ, mode       string
}

func TestBundleReadsEntries(t *testing.T) {
	const (
		obs = `{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/1"}}`
		oo  = `{"resourceType":"OperationOutcome","issue":[]}`
	)
	tests := []struct {
		name    string
		body    string
		typ     string
		total   string
		entries []wantEntry
	}{
		{name: "searchset", typ: "searchset", total: "3",
			body: `{"resourceType":"Bundle","type":"searchset","total":3,"entry":[` +
				`{"fullUrl":"x","resource":` + obs + `,"search":{"mode":"match","score":1}},` +
				`{"resource":` + oo + `,"search":{"mode":"outcome"}},` +
				`{"search":{"mode":"include"},"resource":null}]}`,
			entries: []wantEntry{
				{entry: `{"fullUrl":"x","resource":` + obs + `,"search":{"mode":"match","score":1}}`, resource: obs, presence: fhirjson.Present, typ: "Observation", mode: "match"},
				{entry: `{"resource":` + oo + `,"search":{"mode":"outcome"}}`, resource: oo, presence: fhirjson.Present, typ: "OperationOutcome", mode: "outcome"},
				{entry: `{"search":{"mode":"include"},"resource":null}`, resource: "null", presence: fhirjson.Null, mode: "include"},
			}},
		{name: "resourceType last", typ: "history",
			body: `{"entry":[{"request":{"method":"DELETE"}},{"resource":{}}],"type":"history","resourceType":"Bundle"}`,
			entries: []wantEntry{
				{entry: `{"request":{"method":"DELETE"}}`},
				{entry: `{"resource":{}}`, resource: `{}`, presence: fhirjson.Present},
			}},
		{name: "pretty", typ: "batch-response", total: `1`,
			body: "{\n \"resourceType\" : \"Bundle\" ,\n \"type\" : \"batch-response\",\n \"total\" :\n 1 ,\n \"entry\" : [\n  { \"resource\" : { \"resourceType\" : \"Patient\" } ,\n \"search\" : { \"mode\" : null } } \n ]\n}\n",
			entries: []wantEntry{
				{entry: `{ "resource" : { "resourceType" : "Patient" } ,` + "\n" + ` "search" : { "mode" : null } }`, resource: `{ "resourceType" : "Patient" }`, presence: fhirjson.Present, typ: "Patient"},
			}},
		{name: "null entry and type", body: `{"resourceType":"Bundle","type":null,"entry":null}`},
		{name: "empty entry", typ: "searchset", body: `{"resourceType":"Bundle","type":"searchset","entry":[]}`},
		{name: "total of any JSON type", total: `{"x":[1]}`, body: `{"resourceType":"Bundle","total":{"x":[1]}}`},
		{name: "entries of a Bundle in an entry are not read", typ: "searchset",
			body: `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Bundle","entry":[{"resource":` + obs + `}]}}]}`,
			entries: []wantEntry{
				{entry: `{"resource":{"resourceType":"Bundle","entry":[{"resource":` + obs + `}]}}`, resource: `{"resourceType":"Bundle","entry":[{"resource":` + obs + `}]}`, presence: fhirjson.Present, typ: "Bundle"},
			}},
		// Keys the guard does not read may repeat: nothing is decided on them.
		{name: "other keys repeated", typ: "searchset",
			body: `{"resourceType":"Bundle","link":[],"Link":[],"type":"searchset","entry":[{"fullUrl":"a","fullUrl":"b","resource":{"resourceType":"Observation","id":"1","id":"2"},"search":{"score":1,"score":2}}]}`,
			entries: []wantEntry{
				{entry: `{"fullUrl":"a","fullUrl":"b","resource":{"resourceType":"Observation","id":"1","id":"2"},"search":{"score":1,"score":2}}`, resource: `{"resourceType":"Observation","id":"1","id":"2"}`, presence: fhirjson.Present, typ: "Observation"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			r, err := fhirjson.Scan(body)
			if err != nil {
				t.Fatal(err)
			}
			b, err := r.Bundle()
			if err != nil {
				t.Fatal(err)
			}
			if b.Type != tc.typ || string(b.Total.Of(body)) != tc.total || len(b.Entries) != len(tc.entries) {
				t.Fatalf("type %q, total %q, %d entries; want %q, %q, %d", b.Type, b.Total.Of(body), len(b.Entries), tc.typ, tc.total, len(tc.entries))
			}
			for i, e := range b.Entries {
				got := wantEntry{string(e.Span.Of(body)), string(e.Resource.Of(body)), e.ResourcePresence, e.ResourceType, e.SearchMode}
				if got != tc.entries[i] {
					t.Errorf("entry %d = %+v\nwant %+v", i, got, tc.entries[i])
				}
			}
		})
	}
}

// A resource other than a Bundle is read whatever its "type", "total" or
// "entry" (a List's entry, an Encounter's type); Bundle refuses it.
func TestBundleOfAnotherResource(t *testing.T) {
	for _, body := range []string{
		`{"resourceType":"List","entry":[{"item":{"reference":"Observation/1"}}],"Entry":1}`,
		`{"entry":[1,2],"type":[{"text":"x"}],"resourceType":"Encounter"}`,
		`{"resourceType":"Encounter","type":[],"Type":{},"total":1,"total":2}`,
	} {
		r, err := fhirjson.Scan([]byte(body))
		if err != nil {
			t.Fatalf("Scan(%s) = %v", body, err)
		}
		if b, err := r.Bundle(); !errors.Is(err, fhirjson.ErrUnreadable) {
			t.Errorf("Bundle(%s) = %v, %v; want ErrUnreadable", body, b, err)
		}
	}
}

// What the guard reads of a Bundle must be what FHIR has there, and must
// not be readable in two ways: a client decoding with last-wins or
// case-insensitive keys (encoding/json into a struct) would read another
// member than the one checked.
func TestBundleRefusesWhatCouldBeReadTwoWays(t *testing.T) {
	const o = `{"resourceType":"Observation"}`
	bundle := func(members string) string { return `{"resourceType":"Bundle",` + members + `}` }
	entry := func(e string) string { return bundle(`"type":"searchset","entry":[` + e + `]`) }
	tests := []struct{ name, body string }{
		{"type a number", bundle(`"type":1`)},
		{"type an object", bundle(`"type":{}`)},
		{"type twice", bundle(`"type":"searchset","type":"searchset"`)},
		{"Type beside type", bundle(`"type":"searchset","Type":"batch-response"`)},
		{"TYPE alone", bundle(`"TYPE":"batch-response"`)},
		{"total twice", bundle(`"total":1,"total":2`)},
		{"Total beside total", bundle(`"total":1,"Total":2`)},
		{"entry an object", bundle(`"entry":{"resource":` + o + `}`)},
		{"entry a string", bundle(`"entry":"x"`)},
		{"entry twice", bundle(`"entry":[],"entry":[{"resource":` + o + `}]`)},
		{"Entry beside entry", bundle(`"entry":[],"Entry":[{"resource":` + o + `}]`)},
		{"Entry alone", bundle(`"Entry":[{"resource":` + o + `}]`)},
		{"escaped Entry", bundle(`"\u0045ntry":[{"resource":` + o + `}]`)},
		{"an entry null", entry(`null`)},
		{"an entry an array", entry(`[{"resource":` + o + `}]`)},
		{"an entry a number", entry(`{},1`)},
		{"resource a string", entry(`{"resource":"x"}`)},
		{"resource an array", entry(`{"resource":[` + o + `]}`)},
		{"resource true", entry(`{"resource":true}`)},
		{"resource twice", entry(`{"resource":` + o + `,"resource":` + o + `}`)},
		{"Resource beside resource", entry(`{"resource":` + o + `,"Resource":` + o + `}`)},
		{"Resource alone", entry(`{"Resource":` + o + `}`)},
		{"resourceType of a resource a number", entry(`{"resource":{"resourceType":1}}`)},
		{"resourceType of a resource twice", entry(`{"resource":{"resourceType":"Observation","resourceType":"Patient"}}`)},
		{"resourcetype in a resource", entry(`{"resource":{"resourceType":"Observation","resourcetype":"OperationOutcome"},"search":{"mode":"outcome"}}`)},
		{"search null", entry(`{"resource":` + o + `,"search":null}`)},
		{"search a string", entry(`{"resource":` + o + `,"search":"match"}`)},
		{"search twice", entry(`{"search":{"mode":"match"},"search":{"mode":"outcome"}}`)},
		{"ſearch alone", entry(`{"ſearch":{"mode":"outcome"}}`)},
		{"mode a number", entry(`{"search":{"mode":1}}`)},
		{"mode twice", entry(`{"search":{"mode":"match","mode":"outcome"}}`)},
		{"Mode beside mode", entry(`{"search":{"mode":"match","Mode":"outcome"}}`)},
		{"mOde alone", entry(`{"search":{"mOde":"outcome"}}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := fhirjson.Scan([]byte(tc.body))
			if err != nil {
				t.Fatalf("Scan = %v", err)
			}
			if b, err := r.Bundle(); !errors.Is(err, fhirjson.ErrUnreadable) {
				t.Fatalf("Bundle = %+v, %v; want ErrUnreadable", b, err)
			}
			if ref := reference([]byte(tc.body)); ref.bundleOK {
				t.Fatal("the reference reads it")
			}
		})
	}
}

// Scan's allocations do not grow with the number of JSON tokens: a
// Bundle of 20 entries of 370 bytes and one of 20 entries of 3 KB cost
// the same.
func TestScanAllocationsDoNotGrowWithTokens(t *testing.T) {
	small, large := searchset(20, false), searchset(20, true)
	count := func(body []byte) float64 {
		return testing.AllocsPerRun(20, func() {
			r, err := fhirjson.Scan(body)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Bundle(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if s, l := count(small), count(large); s != l || s > 5 {
		t.Fatalf("allocations: %v for %d bytes, %v for %d bytes; want equal, at most 5", s, len(small), l, len(large))
	}
}

// TestScanLimit: ScanLimit stops at the entry past its bound, and reads a
// Bundle within it as Scan does.
func TestScanLimit(t *testing.T) {
	body := []byte(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{}},{"request":{}},{"request":{}}]}`)
	for _, tc := range []struct {
		max     int
		wantErr error
	}{{0, nil}, {3, nil}, {4, nil}, {2, fhirjson.ErrTooManyEntries}, {1, fhirjson.ErrTooManyEntries}} {
		r, err := fhirjson.ScanLimit(body, tc.max)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("max %d: err %v, want %v", tc.max, err, tc.wantErr)
			continue
		}
		if err == nil {
			if b, err := r.Bundle(); err != nil || len(b.Entries) != 3 {
				t.Errorf("max %d: %v entries, %v", tc.max, b, err)
			}
		}
	}
}
