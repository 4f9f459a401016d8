package context_test

import (
	"net/url"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
)

// TestLocalReference: a reference is local when it is relative, or
// absolute under the base as URLs compare (scheme and host in any case,
// default port or none, base with or without its trailing "/"); every
// other form, and every trick to make another base or a version look
// like this one, is not.
func TestLocalReference(t *testing.T) {
	const base = "https://fhir.example.org/r4"
	tests := []struct {
		name, ref, base string
		typ, id         string // want; "" for not local
	}{
		{name: "relative", ref: "Patient/123", typ: "Patient", id: "123"},
		{name: "relative with dots and dashes in the id", ref: "Encounter/a.b-9", typ: "Encounter", id: "a.b-9"},
		{name: "absolute under the base", ref: base + "/Patient/123", typ: "Patient", id: "123"},
		{name: "absolute, upper-case host", ref: "https://FHIR.Example.ORG/r4/Patient/123", typ: "Patient", id: "123"},
		{name: "absolute, upper-case scheme", ref: "HTTPS://fhir.example.org/r4/Patient/123", typ: "Patient", id: "123"},
		{name: "absolute, the default port", ref: "https://fhir.example.org:443/r4/Patient/123", typ: "Patient", id: "123"},
		{name: "absolute, an empty port", ref: "https://fhir.example.org:/r4/Patient/123", typ: "Patient", id: "123"},
		{name: "base with a trailing slash", ref: base + "/Patient/123", base: base + "/", typ: "Patient", id: "123"},
		{name: "base with the default port", ref: base + "/Patient/123", base: "https://fhir.example.org:443/r4", typ: "Patient", id: "123"},
		{name: "base with an upper-case host", ref: base + "/Patient/123", base: "https://FHIR.example.org/r4", typ: "Patient", id: "123"},
		{name: "base at the root of its host", ref: "https://fhir.example.org/Patient/1", base: "https://fhir.example.org", typ: "Patient", id: "1"},
		{name: "base at the root, with its slash", ref: "https://fhir.example.org/Patient/1", base: "https://fhir.example.org/", typ: "Patient", id: "1"},
		{name: "http base on its own port", ref: "http://127.0.0.1:8080/fhir/Patient/1", base: "http://127.0.0.1:8080/fhir", typ: "Patient", id: "1"},
		{name: "IPv6 host", ref: "https://[::1]:8443/fhir/Patient/1", base: "https://[::1]:8443/fhir", typ: "Patient", id: "1"},

		{name: "another server", ref: "https://other.example.org/r4/Patient/123"},
		{name: "another base on this host", ref: "https://fhir.example.org/tenant-b/Patient/123"},
		{name: "a base whose path starts with this one's", ref: "https://fhir.example.org/r4x/Patient/1"},
		{name: "a path under the base", ref: "https://fhir.example.org/r4/x/Patient/1"},
		{name: "the base's parent", ref: "https://fhir.example.org/Patient/1"},
		{name: "a path in another case", ref: "https://fhir.example.org/R4/Patient/1"},
		{name: "http for an https base", ref: "http://fhir.example.org/r4/Patient/1"},
		{name: "https on port 80", ref: "https://fhir.example.org:80/r4/Patient/1"},
		{name: "another port", ref: "https://fhir.example.org:8443/r4/Patient/1"},
		{name: "a port that is no number", ref: "https://fhir.example.org:x/r4/Patient/1"},
		{name: "a signed port", ref: "https://fhir.example.org:+443/r4/Patient/1"},
		{name: "a host with a trailing dot", ref: "https://fhir.example.org./r4/Patient/1"},
		{name: "user information", ref: "https://fhir.example.org@other.example.org/r4/Patient/1"},
		{name: "user information naming this host", ref: "https://x@fhir.example.org/r4/Patient/1"},
		{name: "another scheme", ref: "ftp://fhir.example.org/r4/Patient/1"},
		{name: "no scheme, the base's path", ref: "/r4/Patient/1"},
		{name: "scheme-relative", ref: "//fhir.example.org/r4/Patient/1"},
		{name: "a double slash after the base", ref: base + "//Patient/1"},
		{name: "a trailing slash", ref: "Patient/123/"},
		{name: "a dot-segment after the base", ref: base + "/./Patient/1"},
		{name: "a dot-dot segment climbing back into the base", ref: "https://fhir.example.org/r4/x/../Patient/1"},
		{name: "relative climbing out", ref: "../Patient/123"},
		{name: "relative with a leading dot", ref: "./Patient/123"},
		{name: "version-specific, relative", ref: "Patient/123/_history/1"},
		{name: "version-specific, absolute", ref: base + "/Patient/123/_history/1"},
		{name: "a query", ref: "Patient/123?x"},
		{name: "a query on an absolute reference", ref: base + "/Patient/123?_format=json"},
		{name: "a fragment", ref: "Patient/123#p1"},
		{name: "a percent-encoded slash", ref: "Patient%2F123"},
		{name: "a percent-encoded slash in the base", ref: "https://fhir.example.org%2Fr4/Patient/123"},
		{name: "percent-encoding in the id", ref: "Patient/12%33"},
		{name: "a backslash", ref: `https://fhir.example.org/r4\Patient/1`},
		{name: "a space", ref: "Patient/1 23"},
		{name: "a tab", ref: "Patient/\t123"},
		{name: "non-ASCII", ref: "Patient/1２3"},
		{name: "urn:uuid", ref: "urn:uuid:2b1a1d1e-8a4e-4f6b-9c1d-0b6a7c3b9e10"},
		{name: "urn:oid", ref: "urn:oid:1.2.3"},
		{name: "a plain id", ref: "123"},
		{name: "empty", ref: ""},
		{name: "only a slash", ref: "/"},
		{name: "no id", ref: "Patient/"},
		{name: "no type", ref: "/123"},
		{name: "a lower-case type", ref: "patient/123"},
		{name: "a type with a digit", ref: "Patient2/123"},
		{name: "a type too long", ref: strings.Repeat("A", 65) + "/1"},
		{name: "an id of a dot", ref: "Patient/."},
		{name: "an id of two dots", ref: "Patient/.."},
		{name: "an id too long", ref: "Patient/" + strings.Repeat("1", 65)},
		{name: "an id with an underscore", ref: "Patient/a_b"},
		{name: "absolute with no base configured", ref: base + "/Patient/1", base: "-"},
		{name: "a base that is no URL", ref: base + "/Patient/1", base: "fhir.example.org/r4"},
		{name: "a reference far too long", ref: base + "/" + strings.Repeat("a/", 3000) + "Patient/1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.base
			switch b {
			case "":
				b = base
			case "-":
				b = ""
			}
			typ, id, ok := smartctx.LocalReference(tc.ref, b)
			if want := tc.typ != ""; ok != want || typ != tc.typ || id != tc.id {
				t.Errorf("LocalReference(%q, %q) = %q, %q, %v; want %q, %q, %v", tc.ref, b, typ, id, ok, tc.typ, tc.id, want)
			}
		})
	}
}

// TestLocalFHIRUser: the fhirUser is the user's own local resource only
// when it is on the base and of a type SMART allows for fhirUser;
// FHIRUserReference still splits any of them.
func TestLocalFHIRUser(t *testing.T) {
	const base = "https://ehr.example.org/fhir"
	tests := []struct {
		user    string
		typ, id string
	}{
		{"Practitioner/dr-jones", "Practitioner", "dr-jones"},
		{base + "/Patient/123", "Patient", "123"},
		{"https://EHR.example.org:443/fhir/RelatedPerson/r1", "RelatedPerson", "r1"},
		{"https://other.example.org/fhir/Patient/123", "", ""},
		{"Practitioner/dr-jones/_history/2", "", ""},
		{"Observation/1", "", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		g := smartctx.NewGrant(smartctx.Claims{FHIRUser: tc.user})
		typ, id, ok := g.LocalFHIRUser(base)
		if ok != (tc.typ != "") || typ != tc.typ || id != tc.id {
			t.Errorf("LocalFHIRUser of %q = %q, %q, %v; want %q, %q", tc.user, typ, id, ok, tc.typ, tc.id)
		}
	}
	var nilGrant *smartctx.Grant
	if _, _, ok := nilGrant.LocalFHIRUser(base); ok {
		t.Error("a nil grant has a local fhirUser")
	}
}

// TestFHIRUserReferenceSplitsTheClaim pins that a grant's
// FHIRUserReference, split once when the grant is made, is
// SplitUserReference of its fhirUser claim, and nothing for a nil or zero
// Grant.
func TestFHIRUserReferenceSplitsTheClaim(t *testing.T) {
	for _, user := range []string{"Practitioner/dr-jones", "https://ehr.example.org/fhir/Patient/123",
		"https://other.example.org/fhir/RelatedPerson/r1", "Practitioner/dr-jones/_history/2", "Observation/1",
		"urn:uuid:1", "Patient/", "/Patient/1", "Patient/a b", ""} {
		g := smartctx.NewGrant(smartctx.Claims{FHIRUser: user})
		typ, id, ok := g.FHIRUserReference()
		wtyp, wid, wok := smartctx.SplitUserReference(user)
		if typ != wtyp || id != wid || ok != wok {
			t.Errorf("FHIRUserReference of %q = %q, %q, %v; want %q, %q, %v", user, typ, id, ok, wtyp, wid, wok)
		}
	}
	var nilGrant *smartctx.Grant
	if typ, id, ok := nilGrant.FHIRUserReference(); typ != "" || id != "" || ok {
		t.Errorf("a nil grant's fhirUser reference is %q, %q, %v", typ, id, ok)
	}
	if typ, id, ok := new(smartctx.Grant).FHIRUserReference(); typ != "" || id != "" || ok {
		t.Errorf("a zero grant's fhirUser reference is %q, %q, %v", typ, id, ok)
	}
}

// FuzzLocalReference checks LocalReference against net/url: whatever it
// calls local is a URL with no query, fragment or user information whose
// scheme and host are the base's (in any case, the default port dropped)
// and whose path is the base's path, the type and the id; a relative one
// is exactly "type/id"; and the type and id it returns are valid.
func FuzzLocalReference(f *testing.F) {
	for _, s := range []string{
		"Patient/123", "https://fhir.example.org/r4/Patient/123", "https://FHIR.example.org:443/r4/Encounter/9",
		"https://fhir.example.org/r4x/Patient/1", "Patient/123/_history/1", "Patient/123?x", "../Patient/123",
		"Patient%2F123", "https://fhir.example.org/tenant-b/Patient/1", "urn:uuid:1", "https://u@fhir.example.org/r4/Patient/1",
		"https://fhir.example.org/r4//Patient/1", "https://fhir.example.org/r4/../r4/Patient/1", "https://[::1]:443/r4/Patient/1",
		"https://fhir.example.org:0443/r4/Patient/1", "http://fhir.example.org:80/r4/Patient/1",
	} {
		f.Add(s, "https://fhir.example.org/r4")
		f.Add(s, "https://fhir.example.org/r4/")
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, ref, base string) {
		checkLocalReference(t, ref, base)
		// The same tail under the base, so that local answers are common.
		checkLocalReference(t, strings.TrimSuffix(base, "/")+"/"+ref, base)
	})
}

func checkLocalReference(t *testing.T, ref, base string) {
	{
		typ, id, ok := smartctx.LocalReference(ref, base)
		if !ok {
			if typ != "" || id != "" {
				t.Fatalf("not local, yet %q %q", typ, id)
			}
			return
		}
		if !smartctx.ValidID(id) || typ == "" {
			t.Fatalf("LocalReference(%q, %q) gave type %q id %q", ref, base, typ, id)
		}
		if t2, id2, ok2 := smartctx.LocalReference(typ+"/"+id, ""); !ok2 || t2 != typ || id2 != id {
			t.Fatalf("%s/%s does not read back", typ, id)
		}
		if ref == typ+"/"+id {
			return
		}
		r, err := url.Parse(ref)
		if err != nil {
			t.Fatalf("LocalReference(%q, %q) local, but url.Parse: %v", ref, base, err)
		}
		b, err := url.Parse(base)
		if err != nil {
			t.Fatalf("LocalReference(%q, %q) local, but the base does not parse: %v", ref, base, err)
		}
		port := func(u *url.URL) string {
			p := strings.TrimLeft(u.Port(), "0")
			if strings.EqualFold(u.Scheme, "https") && p == "443" || strings.EqualFold(u.Scheme, "http") && p == "80" {
				return ""
			}
			return p
		}
		switch {
		case r.User != nil || r.RawQuery != "" || r.ForceQuery || r.Fragment != "" || r.Opaque != "":
			t.Fatalf("local %q has more than a path", ref)
		case !strings.EqualFold(r.Scheme, b.Scheme) || !strings.EqualFold(r.Hostname(), b.Hostname()) || port(r) != port(b):
			t.Fatalf("local %q is not on the host of %q", ref, base)
		case r.Path != strings.TrimSuffix(b.Path, "/")+"/"+typ+"/"+id:
			t.Fatalf("local %q has path %q, base %q", ref, r.Path, b.Path)
		}
	}
}
