package adaptertest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// dpopProofsThroughTheAdapter: a DPoP-bound token (RFC 9449) works
// through the framework as through net/http: the nonce the Guard asks for
// reaches the client (DPoP-Nonce, WWW-Authenticate), a fresh proof with it
// is served, the same proof again and a proof for another request are
// refused before any handler runs, and a write to another patient's
// resource with a good proof is still refused.
func dpopProofsThroughTheAdapter(t *testing.T, f Framework) {
	is, g := NewGuard(t, func(c *smartmw.Config) {
		c.Issuer.DPoP = smartmw.DPoPAllowed
		c.DPoP.NonceKey = []byte("adaptertest: a nonce key of 32 b")
	})
	key := smarttest.NewDPoPKey(t, "ES256")
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rds"), smarttest.Patient("123"), smarttest.BoundTo(key))
	a := &FHIR{}
	h := f.Protect(g, API{Routes: a.Routes()})
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	own := Audience + "/Observation/obs-123"

	r := httptest.NewRequest(http.MethodGet, own, nil)
	key.Authorize(t, r, tok)
	w := serve(r)
	nonce := w.Header().Get("DPoP-Nonce")
	if w.Code != http.StatusUnauthorized || nonce == "" || !strings.Contains(w.Header().Get("WWW-Authenticate"), `DPoP realm="fhir", error="use_dpop_nonce"`) {
		t.Fatalf("a proof without the nonce: %d, DPoP-Nonce %q, WWW-Authenticate %q", w.Code, nonce, w.Header().Get("WWW-Authenticate"))
	}
	key.Authorize(t, r, tok, smarttest.ProofNonce(nonce))
	if w := serve(r); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "obs-123") {
		t.Fatalf("with the nonce: %d %s", w.Code, w.Body)
	}
	if w := serve(r); w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error_description="DPoP proof already used"`) {
		t.Fatalf("the same proof again: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	other := httptest.NewRequest(http.MethodDelete, own, nil) // a proof for GET, sent with a DELETE
	other.Header = r.Header.Clone()
	key.Authorize(t, r, tok, smarttest.ProofNonce(nonce))
	other.Header.Set("DPoP", r.Header.Get("DPoP"))
	if w := serve(other); w.Code != http.StatusUnauthorized {
		t.Fatalf("a proof for another method: %d", w.Code)
	}
	del := httptest.NewRequest(http.MethodDelete, Audience+"/Observation/obs-456", nil)
	key.Authorize(t, del, tok, smarttest.ProofNonce(nonce))
	if w := serve(del); w.Code < 400 {
		t.Fatalf("a delete of another patient's Observation: %d", w.Code)
	}
	if calls := a.Calls(); !slices.Equal(calls, []string{"GET Observation/obs-123", "GET Observation/obs-456"}) {
		t.Errorf("handlers ran %q; want the one good read and the Guard's own read of the stored resource", calls)
	}
}
