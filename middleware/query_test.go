package middleware

import (
	"net/url"
	"testing"
)

// FuzzMayNameParam checks that the fast path of token extraction never
// misses an access_token that URL.Query finds: wherever URL.Query has a
// value for the name, mayNameParam is true.
func FuzzMayNameParam(f *testing.F) {
	for _, q := range []string{
		"", "access_token=x", "a=1&access_token=x", "%61ccess_token=x", "access%5Ftoken=x", "access_token",
		"access_token=%zz", "access+token=x", "access_token;=x", "a=1;access_token=x", "access_tokenx=1",
		"code=http%3A%2F%2Floinc.org%7C2339-0&patient=123", "ACCESS_TOKEN=x", "%2561ccess_token=x", "&&access_token=&",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		vals, _ := url.ParseQuery(q) // URL.Query ignores the error
		if _, ok := vals["access_token"]; ok && !mayNameParam(q, "access_token") {
			t.Fatalf("mayNameParam(%q) = false; URL.Query finds access_token", q)
		}
	})
}

func TestMayNameParam(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"access_token=x", true},
		{"a=1&%61ccess%5Ftoken=x", true},
		{"access_token", true},
		{"access+token=x", false},
		{"access_token;=x", false},
		{"access_token%=x", false},
		{"code=http%3A%2F%2Floinc.org%7C2339-0&patient=123", false},
		{"x=access_token", false},
	} {
		if got := mayNameParam(tc.q, "access_token"); got != tc.want {
			t.Errorf("mayNameParam(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}
