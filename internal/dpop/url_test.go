package dpop

import "testing"

func TestNormalizeURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://fhir.example.org/r4/Patient", "https://fhir.example.org/r4/Patient"},
		{"HTTPS://Fhir.Example.ORG/r4", "https://fhir.example.org/r4"},
		{"https://fhir.example.org:443/r4", "https://fhir.example.org/r4"},
		{"http://fhir.example.org:80/r4", "http://fhir.example.org/r4"},
		{"http://fhir.example.org:443/r4", "http://fhir.example.org:443/r4"},
		{"https://fhir.example.org:8443/r4", "https://fhir.example.org:8443/r4"},
		{"https://fhir.example.org", "https://fhir.example.org/"},
		{"https://fhir.example.org?x", "https://fhir.example.org/"},
		{"https://fhir.example.org/a%2fb", "https://fhir.example.org/a%2Fb"},
		{"https://fhir.example.org/%7e%41%2D", "https://fhir.example.org/~A-"},
		{"https://fhir.example.org/a%20b", "https://fhir.example.org/a%20b"},
		{"https://fhir.example.org/a b", "https://fhir.example.org/a%20b"},
		{"https://fhir.example.org/Patient/$everything", "https://fhir.example.org/Patient/$everything"},
		{"https://fhir.example.org/Patient/%24everything", "https://fhir.example.org/Patient/%24everything"},
		{"https://[::1]:443/r4", "https://[::1]/r4"},
		{"https://[::1]:8443/r4", "https://[::1]:8443/r4"},
		{"https://[0:0::0001]/r4", "https://[::1]/r4"},
		{"https://[2001:DB8::A]/r4", "https://[2001:db8::a]/r4"},
		{"https://fhir.example.org/r4/./Patient", "https://fhir.example.org/r4/./Patient"},
		{"https://fhir.example.org/r4/Patient?a=b#c", "https://fhir.example.org/r4/Patient"},
	} {
		got, err := NormalizeURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "/r4/Patient", "fhir.example.org/r4", "ftp://fhir.example.org/", "https:///r4", "https://u:p@fhir.example.org/", "urn:x:y", "https://[fe80::1%25eth0]/", "https://fhir.example.org/%zz", "http://::", "http://[::]x/", "https://[1.2.3.4]/"} {
		if got, err := NormalizeURL(bad); err == nil {
			t.Errorf("NormalizeURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestBaseURL(t *testing.T) {
	for _, tc := range []struct{ base, rest, want string }{
		{"https://fhir.example.org/r4", "/Patient/1", "https://fhir.example.org/r4/Patient/1"},
		{"https://fhir.example.org/r4", "", "https://fhir.example.org/r4"},
		{"https://fhir.example.org/r4", "/", "https://fhir.example.org/r4/"},
		{"https://FHIR.example.org:443/r4", "/Patient/%7e", "https://fhir.example.org/r4/Patient/~"},
		{"https://fhir.example.org", "", "https://fhir.example.org/"},
		{"https://fhir.example.org", "/Patient", "https://fhir.example.org/Patient"},
		{"https://fhir.example.org/t/%41", "/Patient", "https://fhir.example.org/t/A/Patient"},
	} {
		b, err := NewBase(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.URL(tc.rest); got != tc.want {
			t.Errorf("NewBase(%q).URL(%q) = %q, want %q", tc.base, tc.rest, got, tc.want)
		}
		// The same URL, written out by a client, normalises alike.
		if n, _ := NormalizeURL(tc.want); n != tc.want {
			t.Errorf("NormalizeURL(%q) = %q: Base.URL and NormalizeURL disagree", tc.want, n)
		}
	}
}

func TestNormalizePathDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = NormalizePath("/r4/Patient/123/_history/2") }); n != 0 {
		t.Errorf("NormalizePath allocates %v times for a normal path", n)
	}
}
