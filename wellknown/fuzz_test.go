package wellknown

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzUnmarshalValidate checks that no input makes UnmarshalJSON, Validate
// or MarshalJSON panic, and that a document that validates marshals to JSON
// that parses back to the same document and to the same bytes.
func FuzzUnmarshalValidate(f *testing.F) {
	for _, name := range []string{"ig-sample.json", "backend-services.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"token_endpoint":"https://a/t","grant_types_supported":["client_credentials"],"capabilities":["urn:x"],"code_challenge_methods_supported":["S256"],"x":[1, {"y": null}],"TOKEN_ENDPOINT":1}`))
	f.Add([]byte(`{"user_access_brand_identifier":{"value":"v"},"associated_endpoints":[{"url":"http://[::1]/","capabilities":[]}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"scopes_supported":["patient/Observation.rs?code=a|b&x=%20"],"issuer":"https://a?b#c"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Configuration
		if err := json.Unmarshal(data, &c); err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			return
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("a valid document does not marshal: %v", err)
		}
		var d Configuration
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s does not parse: %v", b, err)
		}
		if !sameDocument(c, d) {
			t.Fatalf("round trip changed the document:\n%#v\n%#v", c, d)
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("the re-parsed document is not valid: %v", err)
		}
		b2, err := json.Marshal(d)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("marshalling is not stable:\n%s\n%s (%v)", b, b2, err)
		}
	})
}

// sameDocument compares two documents as JSON does: an empty optional list
// is the same as an absent one, and Extra values are compared by meaning,
// not by bytes (json.Marshal escapes HTML characters in them).
func sameDocument(a, b Configuration) bool {
	norm := func(c Configuration) (Configuration, map[string]any) {
		extra := make(map[string]any)
		for k, v := range c.Extra {
			var x any
			_ = json.Unmarshal(v, &x)
			extra[k] = x
		}
		c.Extra = nil
		v := reflect.ValueOf(&c).Elem()
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
				if strings.HasSuffix(v.Type().Field(i).Tag.Get("json"), ",omitempty") {
					f.SetZero()
				}
			}
		}
		return c, extra
	}
	na, ea := norm(a)
	nb, eb := norm(b)
	return reflect.DeepEqual(na, nb) && reflect.DeepEqual(ea, eb)
}

// FuzzNoneMatch checks that noneMatch never panics, that a field holding
// only the tag (strong or weak) matches, and that a field without the tag
// or "*" does not.
func FuzzNoneMatch(f *testing.F) {
	const etag = `"abc"`
	for _, s := range []string{`"abc"`, `W/"abc"`, `*`, `"a", "abc"`, `"a,"abc"`, `W/`, `"`, ``, ` ,, "x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := noneMatch([]string{s}, etag)
		if !strings.Contains(s, etag) && !strings.Contains(s, "*") && got {
			t.Fatalf("noneMatch(%q) = true without the tag or *", s)
		}
		if noneMatch([]string{etag}, etag) != true || noneMatch([]string{"W/" + etag}, etag) != true {
			t.Fatal("the tag itself does not match")
		}
		if !noneMatch([]string{s, etag}, etag) && !strings.Contains(s, "*") {
			// A later field line still matches whatever the earlier held.
			t.Fatalf("noneMatch(%q, %q) = false", s, etag)
		}
	})
}
