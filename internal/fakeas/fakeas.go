// Package fakeas serves, for a test, an OpenID-style authorization server
// under the https URL the documentation names (such as
// https://auth.example.org/realms/fhir), in process, so that snippets of
// the README and the package docs run verbatim, with their own URLs and
// default HTTP clients. It is for tests only.
package fakeas

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/smartguard/smartguard/internal/testissuer"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Serve starts an authorization server whose issuer is issuer (an https
// URL) and makes http.DefaultTransport send that host's requests to it,
// and refuse every other host, until t ends. Tests that call it must not
// run in parallel.
func Serve(t testing.TB, issuer string) *testissuer.Issuer {
	t.Helper()
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		t.Fatalf("fakeas: issuer %q is not a URL", issuer)
	}
	dev, err := testissuer.New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	dev.SetURL(issuer)
	srv := httptest.NewServer(http.StripPrefix(u.Path, dev.Handler("/token")))
	orig := http.DefaultTransport
	http.DefaultTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != u.Host {
			return nil, errors.New("fakeas: no network beyond the fake authorization server")
		}
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = "http", srv.Listener.Addr().String()
		return orig.RoundTrip(r)
	})
	t.Cleanup(func() {
		http.DefaultTransport = orig
		srv.Close()
	})
	return dev
}
