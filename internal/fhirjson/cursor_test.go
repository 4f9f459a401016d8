package fhirjson_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// readAll reads the value at c, inside depth containers, with every read
// a Cursor offers (objects and arrays by their iterators, strings with
// Text, numbers with Number), and calls text with where each string value
// starts and ends and what Text made of it.
func readAll(c *fhirjson.Cursor, depth int, text func(start, end int, got []byte)) {
	switch c.Peek() {
	case '{':
		if !c.OpenObject(depth) {
			return
		}
		for first := true; ; first = false {
			if _, ok := c.NextKey(first); !ok {
				return
			}
			readAll(c, depth+1, text)
		}
	case '[':
		if !c.OpenArray(depth) {
			return
		}
		for first := true; c.NextElem(first); first = false {
			readAll(c, depth+1, text)
		}
	case '"':
		start := c.Pos()
		got, ok := c.Text(depth)
		if ok && text != nil {
			text(start, c.Pos(), got)
		}
	case 't', 'f', 'n':
		c.Skip(depth)
	default:
		c.Number()
	}
}

// cursorReads reads body whole with readAll.
func cursorReads(body []byte) bool {
	c := fhirjson.NewCursor(body)
	readAll(&c, 0, nil)
	return c.End()
}

// A Cursor accepts what json.Valid accepts, but for keys with escapes.
func TestCursorAcceptsWhatValidAccepts(t *testing.T) {
	bodies := []string{
		`{}`, `[]`, `"x"`, `1`, `-0.5e10`, `true`, `null`,
		" \t\r\n{ \n} \r\n\t",
		`{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`,
		`{"a":"é日本😀","b":"\ud800"}`,
		"{\"a\":\"\xff\xfe\xc3\",\"\xff\":1}",
		`{"a":[0,-0,1,-1,10,1.5,-0.5e10,1E+2,1e-2,0.0,123456789012345678901234567890]}`,
		`{"a":[true,false,null]}`,
		`{"a":[[],{},[{}],{"b":[1,{"c":null}]},[[[[]]]]]}`,
		"{\n  \"a\" : [ 1 , \"x\" ] ,\n  \"b\" : { }\n}\n",
		`{"a":1,"a":2}`, // keys may repeat: readers refuse those they read

		``, ` `, `{`, `}`, `[`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1 "b":2}`,
		`[1,]`, `[,1]`, `[1 2]`, `[1]]`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `0x1`,
		`tru`, `nul`, `True`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"\x01\"", "\"a\tb\"", "{\"a\nb\":1}",
		`"abc`, `"abc\"`, `{"a":1}x`, `{}{}`, `{'a':1}`, `{a:1}`, "{}\x00", "\ufeff{}",
		`{"a":[}`, `{"a":{]}`, `{1:2}`, `[1:2]`, `{"a":1:2}`,
	}
	for _, body := range bodies {
		if got, want := cursorReads([]byte(body)), json.Valid([]byte(body)); got != want {
			t.Errorf("%q: read %v, json.Valid %v", body, got, want)
		}
	}
}

func TestCursorRefusesKeysWithEscapes(t *testing.T) {
	for _, body := range []string{`{"\u0061":1}`, `{"a\n":1}`, `{"x":{"\"":1}}`, `{"a":1,"\\":2}`} {
		if !json.Valid([]byte(body)) {
			t.Fatalf("premise: %s is not JSON", body)
		}
		if cursorReads([]byte(body)) {
			t.Errorf("%s: read", body)
		}
	}
	// In values, escapes are read.
	if !cursorReads([]byte(`{"a":"\u0061","b":["\n"]}`)) {
		t.Error("escapes in values refused")
	}
}

// Containers deeper than MaxDepth are refused, by the iterators and by
// Skip alike.
func TestCursorDepthBound(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat(`{"a":[`, n/2) + strings.Repeat(`]}`, n/2))
	}
	if !cursorReads(nest(fhirjson.MaxDepth)) {
		t.Error("MaxDepth levels refused")
	}
	if cursorReads(nest(fhirjson.MaxDepth + 2)) {
		t.Error("MaxDepth+2 levels read")
	}
	c := fhirjson.NewCursor([]byte(`{}`))
	if c.OpenObject(fhirjson.MaxDepth) || !c.Failed() {
		t.Error("an object opened at depth MaxDepth")
	}
	c = fhirjson.NewCursor([]byte(`[[]]`))
	if c.Skip(fhirjson.MaxDepth - 1); !c.Failed() {
		t.Error("Skip opened a container past MaxDepth")
	}
	c = fhirjson.NewCursor([]byte(`[[]]`))
	if c.Skip(fhirjson.MaxDepth - 2); !c.End() {
		t.Error("Skip refused MaxDepth levels")
	}
	// A deep input costs no stack: it is refused, not a crash.
	deep := []byte(strings.Repeat("[", 1<<20))
	if cursorReads(deep) {
		t.Error("deep input read")
	}
}

func TestCursorText(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		ok     bool
		failed bool
	}{
		{in: `"abc"`, want: "abc", ok: true},
		{in: ` "a\"b\u00e9\ud83d\ude00" `, want: "a\"bé😀", ok: true},
		{in: `"\ud800x"`, want: "\ufffdx", ok: true},
		{in: "\"\xff\"", want: "\xff", ok: true}, // no escape: the bytes as they are
		{in: `null`},
		{in: `{"a":[1,"x"]}`},
		{in: `12`},
		{in: `{"a":01}`, failed: true},
		{in: `"\x"`, failed: true},
		{in: "\"a\x01\"", failed: true},
		{in: `"abc`, failed: true},
	}
	for _, tc := range tests {
		c := fhirjson.NewCursor([]byte(tc.in))
		got, ok := c.Text(0)
		if string(got) != tc.want || ok != tc.ok || c.Failed() != tc.failed {
			t.Errorf("Text(%s) = %q, %v, failed %v; want %q, %v, failed %v", tc.in, got, ok, c.Failed(), tc.want, tc.ok, tc.failed)
		}
		if !tc.failed && !c.End() {
			t.Errorf("Text(%s) did not read the value whole", tc.in)
		}
	}
}

func TestCursorNumber(t *testing.T) {
	for _, in := range []string{`0`, `-0`, `12`, `1.5`, `-0.5e10`, `1E+2`, `1e-2`} {
		c := fhirjson.NewCursor([]byte(" " + in + " "))
		if got := c.Number(); string(got) != in || !c.End() {
			t.Errorf("Number(%s) = %q, failed %v", in, got, c.Failed())
		}
	}
	for _, in := range []string{``, `01`, `1.`, `.5`, `+1`, `-`, `1e`, `"1"`, `true`, `x`} {
		c := fhirjson.NewCursor([]byte(in))
		if c.Number(); !c.Failed() && c.End() {
			t.Errorf("Number(%q) read", in)
		}
	}
}

func TestCursorFields(t *testing.T) {
	names := []string{"system", "code"}
	tests := []struct {
		in   string
		want []string // the values found, "" when absent; nil when refused
	}{
		{in: `{"system":"s","code":"c"}`, want: []string{`"s"`, `"c"`}},
		{in: ` { "code" : [1] , "display":"d" } `, want: []string{``, `[1]`}},
		{in: `{}`, want: []string{``, ``}},
		{in: `{"x":1,"x":2}`, want: []string{``, ``}}, // keys not read may repeat
		{in: `{"code":"a","code":"b"}`},
		{in: `{"Code":"a"}`},
		{in: `{"ſystem":"a"}`}, // U+017F folds to s
		{in: `{"\u0063ode":"a"}`},
		{in: `{"code":01}`},
		{in: `["code"]`},
		{in: `"code"`},
	}
	for _, tc := range tests {
		data := []byte(tc.in)
		c := fhirjson.NewCursor(data)
		offs := make([]int, len(names))
		c.Fields(0, names, offs)
		if tc.want == nil {
			if !c.Failed() {
				t.Errorf("Fields(%s) read", tc.in)
			}
			continue
		}
		if !c.End() {
			t.Errorf("Fields(%s) failed", tc.in)
			continue
		}
		for i, off := range offs {
			got := ""
			if off >= 0 {
				v := c.At(off)
				v.Skip(1)
				got = string(data[off:v.Pos()])
			}
			if got != tc.want[i] {
				t.Errorf("Fields(%s): %s = %s, want %s", tc.in, names[i], got, tc.want[i])
			}
		}
	}
}

// A copy of a Cursor reads on without moving the original.
func TestCursorCopiesReadIndependently(t *testing.T) {
	c := fhirjson.NewCursor([]byte(`{"a":"x","b":2}`))
	if !c.OpenObject(0) {
		t.Fatal("OpenObject failed")
	}
	if k, ok := c.NextKey(true); !ok || string(k) != "a" {
		t.Fatalf("NextKey = %q, %v", k, ok)
	}
	d := c
	d.Fail()
	if v, ok := c.Text(1); !ok || string(v) != "x" || c.Failed() {
		t.Fatalf("Text after a copy failed = %q, %v", v, ok)
	}
	if k, ok := c.NextKey(false); !ok || string(k) != "b" {
		t.Fatalf("NextKey = %q, %v", k, ok)
	}
	c.Skip(1)
	if _, ok := c.NextKey(false); ok || !c.End() {
		t.Fatal("the object did not end")
	}
}

// Reading with a Cursor allocates nothing unless a string with escapes
// is decoded.
func TestCursorDoesNotAllocate(t *testing.T) {
	data := []byte(`{"resourceType":"Observation","code":{"coding":[{"system":"s","code":"c"}]},"value":[1.5,true,null,"é"]}`)
	if n := testing.AllocsPerRun(50, func() {
		if !cursorReads(data) {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzCursor compares a Cursor with encoding/json: reading a body whole
// succeeds when json.Valid accepts it, no key holds an escape and it
// nests no deeper than MaxDepth, and only then; every string value reads
// as json.Unmarshal decodes it (or, without an escape, as its bytes); and
// Fields finds the members encoding/json finds, refusing a named key
// given twice or another key folding to one.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		`{"resourceType":"Observation","code":{"coding":[{"system":"s","code":"c"}]}}`,
		`{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00","b":"\ud800"}`,
		"{\"\xff\":\"\xfe\",\"code\":[1,-0.5e+3,true,false,null]}",
		`{"\u0063ode":1}`,
		`{"Code":1,"system":2}`,
		`{"code":1,"code":2}`,
		`[[[[{"a":01}]]]]`,
		`{"a":1,}`,
	} {
		f.Add([]byte(seed))
	}
	names := []string{"system", "code", "display"}
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fhirjson.NewCursor(body)
		readAll(&c, 0, func(start, end int, got []byte) {
			raw := body[start:end]
			var want string
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("Text read %q, which json.Unmarshal refuses: %v", raw, err)
			}
			if bytes.IndexByte(raw, '\\') < 0 {
				want = string(raw[1 : len(raw)-1])
			}
			if string(got) != want {
				t.Fatalf("Text(%s) = %q, json.Unmarshal %q", raw, got, want)
			}
		})
		read := c.End()
		valid := json.Valid(body)
		switch {
		case read && !valid:
			t.Fatal("read what json.Valid refuses")
		case valid && !read && !escapedKey(body) && refDepth(body) <= fhirjson.MaxDepth:
			t.Fatal("refused what json.Valid accepts")
		}

		c = fhirjson.NewCursor(body)
		offs := make([]int, len(names))
		c.Fields(0, names, offs)
		fieldsOK := c.End()
		if !valid || escapedKey(body) || refDepth(body) > fhirjson.MaxDepth {
			if fieldsOK && !valid {
				t.Fatal("Fields read what json.Valid refuses")
			}
			return
		}
		m, isObject := refMembers(body)
		if !isObject {
			if fieldsOK {
				t.Fatal("Fields read what is not an object")
			}
			return
		}
		want, ok := refPick(m, names...)
		if ok != fieldsOK {
			t.Fatalf("Fields read %v, reference %v", fieldsOK, ok)
		}
		if !ok {
			return
		}
		for i, off := range offs {
			var got []byte
			if off >= 0 {
				v := c.At(off)
				v.Skip(1)
				got = body[off:v.Pos()]
			}
			if !bytes.Equal(got, want[i]) {
				t.Fatalf("Fields: %s = %q, reference %q", names[i], got, want[i])
			}
		}
	})
}

// escapedKey reports whether some key of the JSON text body holds an
// escape (a reference: it reads body with encoding/json's tokens).
func escapedKey(body []byte) bool {
	type frame struct{ object, atKey bool }
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].atKey = true
		}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].atKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			if bytes.IndexByte(body[off:d.InputOffset()], '\\') >= 0 {
				return true
			}
			stack[n-1].atKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, atKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

func TestLeadingType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"resourceType":"Observation","id":"1"}`, "Observation"},
		{` { "resourceType" : "Obs\u0065rvation" `, "Observation"}, // the rest is the caller's
		{`{"id":"1","resourceType":"Observation"}`, ""},
		{`{"\u0072esourceType":"Observation"}`, ""},
		{`{"ResourceType":"Observation"}`, ""},
		{`{"resourceType":1}`, ""},
		{`{"resourceType":"Obs`, ""},
		{`["resourceType"]`, ""},
		{``, ""},
	} {
		if got := fhirjson.LeadingType([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("LeadingType(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// readMembers reads the object in data with a Cursor, the string value of
// each "reference" member and a skip of every other, using PlainMember
// first when plain is set. It returns what it read and whether the
// cursor failed.
func readMembers(data []byte, plain bool) (log []string, failed bool) {
	c := fhirjson.NewCursor(data)
	if !c.OpenObject(0) {
		return nil, true
	}
	for first := true; ; first = false {
		if plain {
			if v, ok := c.PlainMember(first, "reference"); ok {
				log = append(log, "reference="+string(v))
				continue
			}
		}
		key, ok := c.NextKey(first)
		if !ok {
			break
		}
		if string(key) == "reference" && c.Peek() == '"' {
			v, _ := c.Text(1)
			log = append(log, "reference="+string(v))
			continue
		}
		log = append(log, "skip "+string(key))
		c.Skip(1)
	}
	return log, !c.End()
}

// FuzzPlainMember checks that PlainMember reads what NextKey and Text
// read, and refuses nothing they accept.
func FuzzPlainMember(f *testing.F) {
	for _, s := range []string{
		`{"reference":"Patient/1"}`, `{"display":"x","reference":"Patient/1"}`, `{"reference":"a\"b"}`,
		`{"reference":"Patient/1","reference":"Patient/2"}`, `{ "reference" : "x" }`, `{"reference":"x\u0001"}`,
		"{\"reference\":\"x\x01\"}", `{"reference":7}`, `{"reference":"x"`, `{"reference":"x",}`, `{"referencex":"y"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotFailed := readMembers(data, true)
		want, wantFailed := readMembers(data, false)
		if gotFailed != wantFailed || !gotFailed && !slices.Equal(got, want) {
			t.Fatalf("%q: with PlainMember %q (failed %v), without %q (failed %v)", data, got, gotFailed, want, wantFailed)
		}
	})
}

// FuzzKeyFilter checks that a KeyFilter lets through every key that may
// be one of its names or fold to one (MayFold).
func FuzzKeyFilter(f *testing.F) {
	f.Add([]byte("subject"), "subject,performer,id")
	f.Add([]byte("\u017Fubject"), "subject")
	f.Add([]byte("ID"), "resourceType,id,contained")
	f.Add([]byte(""), "a")
	f.Fuzz(func(t *testing.T, key []byte, list string) {
		var names []string
		for n := range strings.SplitSeq(list, ",") {
			if n != "" && isASCII(n) {
				names = append(names, n)
			}
		}
		var k fhirjson.KeyFilter
		k.Set(names...)
		for _, n := range names {
			if (fhirjson.MayFold(key, n) || fhirjson.FoldsTo(key, n) || string(key) == n) && !k.May(key) {
				t.Fatalf("the filter of %q lets %q go, which may be %q", names, key, n)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
