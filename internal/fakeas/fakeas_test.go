package fakeas

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestServe: the issuer's metadata is reached at its own https URL, and
// any other host is refused.
func TestServe(t *testing.T) {
	const issuer = "https://auth.example.org/realms/fhir"
	Serve(t, issuer)
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct{ Issuer string }
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.Issuer != issuer {
		t.Fatalf("metadata issuer %q, %v", m.Issuer, err)
	}
	if _, err := http.Get("https://other.example.org/"); err == nil {
		t.Error("another host was reached")
	}
}
