package fhirjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

var requestNames = []string{"method", "url", "ifNoneExist"}

func TestMembersReadsNamedValues(t *testing.T) {
	for _, tc := range []struct {
		name, obj string
		want      []string // each named value's bytes, "" when absent
	}{
		{"all", `{"method":"POST","url":"Observation","ifNoneExist":"identifier=1"}`, []string{`"POST"`, `"Observation"`, `"identifier=1"`}},
		{"some, in another order, with others", ` { "url" : "Patient/1", "x": [1, {"method": 2}] , "method":"GET"} `, []string{`"GET"`, `"Patient/1"`, ``}},
		{"null and non-string values as they are", `{"method":null,"url":{"a":1},"ifNoneExist":12.5e3}`, []string{`null`, `{"a":1}`, `12.5e3`}},
		{"escaped key", `{"m\u0065thod":"DELETE"}`, []string{`"DELETE"`, ``, ``}},
		{"empty", `{}`, []string{``, ``, ``}},
		{"case-folded keys of other names", `{"Foo":1,"fOO2":2,"method":"GET"}`, []string{`"GET"`, ``, ``}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := []byte(tc.obj)
			spans, err := fhirjson.Members(obj, requestNames...)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range spans {
				if got := string(s.Of(obj)); got != tc.want[i] {
					t.Errorf("%s = %q, want %q", requestNames[i], got, tc.want[i])
				}
			}
		})
	}
}

func TestMembersRefusesWhatCouldBeReadTwoWays(t *testing.T) {
	many := func(extra string) string {
		var b strings.Builder
		b.WriteString(`{`)
		for i := range 40 {
			b.WriteString(`"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1`)
			if i < 39 || extra != "" {
				b.WriteString(`,`)
			}
		}
		return b.String() + extra + `}`
	}
	for _, tc := range []struct {
		name, obj string
		err       error
	}{
		{"a named key twice", `{"method":"GET","method":"DELETE"}`, fhirjson.ErrUnreadable},
		{"a named key and its fold", `{"method":"GET","Method":"DELETE"}`, fhirjson.ErrUnreadable},
		{"a fold of a named key alone", `{"IfNoneExist":"x"}`, fhirjson.ErrUnreadable},
		{"a fold by a non-ASCII rune", `{"url":"a","\u212Aey":1,"key":2}`, fhirjson.ErrUnreadable},
		{"a long s", "{\"ifNoneExi\u017Ft\":1}", fhirjson.ErrUnreadable},
		{"another key twice", `{"fullUrl":"a","fullUrl":"b"}`, fhirjson.ErrUnreadable},
		{"another key and its fold", `{"fullUrl":"a","FULLURL":"b"}`, fhirjson.ErrUnreadable},
		{"escaped twin", `{"a":1,"\u0061":2}`, fhirjson.ErrUnreadable},
		{"invalid UTF-8 and U+FFFD", "{\"\xff\":1,\"\\ufffd\":2}", fhirjson.ErrUnreadable},
		{"lone surrogate and U+FFFD", `{"\ud800":1,"\ufffd":2}`, fhirjson.ErrUnreadable},
		{"twins among many keys", many(`"kz":1,"KZ":2`), fhirjson.ErrUnreadable},
		{"not an object", `["method","GET"]`, fhirjson.ErrUnreadable},
		{"null", `null`, fhirjson.ErrUnreadable},
		{"trailing data", `{"method":"GET"} x`, fhirjson.ErrSyntax},
		{"two objects", `{"method":"GET"}{}`, fhirjson.ErrSyntax},
		{"truncated", `{"method":"GET"`, fhirjson.ErrSyntax},
		{"malformed value", `{"method":01}`, fhirjson.ErrSyntax},
		{"empty", ``, fhirjson.ErrSyntax},
		{"too deep", `{"a":` + strings.Repeat("[", fhirjson.MaxDepth) + strings.Repeat("]", fhirjson.MaxDepth) + `}`, fhirjson.ErrDepth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fhirjson.Members([]byte(tc.obj), requestNames...); !errors.Is(err, tc.err) {
				t.Errorf("error %v, want %v", err, tc.err)
			}
		})
	}
	if _, err := fhirjson.Members([]byte(many("")), requestNames...); err != nil {
		t.Errorf("40 distinct keys: %v", err)
	}
}

func TestDecodeString(t *testing.T) {
	for _, tc := range []struct {
		v, want string
		ok      bool
	}{
		{``, "", true},
		{`null`, "", true},
		{`"GET"`, "GET", true},
		{`"a\"b\u00e9\ud83d\ude00"`, "a\"bé😀", true},
		{`"\ud800"`, "\ufffd", true},
		{"\"\xff\"", "\ufffd", true},
		{`1`, "", false},
		{`true`, "", false},
		{`{}`, "", false},
		{`["a"]`, "", false},
	} {
		got, ok := fhirjson.DecodeString([]byte(tc.v))
		if got != tc.want || ok != tc.ok {
			t.Errorf("DecodeString(%s) = %q, %v; want %q, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

// TestMembersAllocatesOnlyItsResult: reading an entry's request costs one
// allocation whatever its length, for up to 16 keys.
func TestMembersAllocatesOnlyItsResult(t *testing.T) {
	obj := []byte(`{"method":"PUT","url":"Observation/1","ifMatch":"W/\"3\"","x":"` + strings.Repeat("y", 4096) + `"}`)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := fhirjson.Members(obj, requestNames...); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}

// FoldsTo is the check of keys a case-insensitive decoder would read as
// one that matters (it moved here from internal/compartment).
func TestFoldsTo(t *testing.T) {
	for _, tc := range []struct {
		key, name string
		want      bool
	}{
		{"subject", "subject", false},
		{"Subject", "subject", true},
		{"ſubject", "subject", true},
		{"SUBJECT", "subject", true},
		{"subjects", "subject", false},
		{"subjec", "subject", false},
		{"\u212aey", "key", true},
		{"reference", "resourceType", false},
		{"ID", "id", true},
		{"ıd", "id", false}, // dotless i does not fold to i
	} {
		if got := fhirjson.FoldsTo([]byte(tc.key), tc.name); got != tc.want {
			t.Errorf("FoldsTo(%q, %q) = %v", tc.key, tc.name, got)
		}
	}
}
