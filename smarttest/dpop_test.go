package smarttest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// dpopGuard is a Guard trusting is, whose tokens may be DPoP-bound, around
// a handler answering 200.
func dpopGuard(t *testing.T, is *smarttest.Issuer) http.Handler {
	t.Helper()
	cfg := is.Config()
	cfg.Issuer.DPoP = smartmw.DPoPAllowed
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
}

func status(h http.Handler, r *http.Request) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// TestDPoPTokensAndProofsAgainstTheMiddleware: what DPoPKey mints is what
// the Guard accepts, and each broken proof is refused.
func TestDPoPTokensAndProofsAgainstTheMiddleware(t *testing.T) {
	is := smarttest.NewIssuer(t)
	h := dpopGuard(t, is)
	key := smarttest.NewDPoPKey(t, "ES256")
	tok := is.Token(t, smarttest.Scopes("user/*.rs"), smarttest.BoundTo(key))
	const target = "https://fhir.example.org/r4/Patient/1?_format=json"
	for _, tc := range []struct {
		name string
		opts []smarttest.ProofOption
		want int
	}{
		{"as minted", nil, 200},
		{"old", []smarttest.ProofOption{smarttest.ProofIssuedAt(time.Now().Add(-time.Hour))}, 401},
		{"for another method", []smarttest.ProofOption{smarttest.ProofClaim("htm", "DELETE")}, 401},
		{"without ath", []smarttest.ProofOption{smarttest.ProofClaim("ath", nil)}, 401},
		{"of another typ", []smarttest.ProofOption{smarttest.ProofHeader("typ", "JWT")}, 401},
		{"without typ", []smarttest.ProofOption{smarttest.ProofHeader("typ", nil)}, 401},
		{"with a nonce nobody asked for", []smarttest.ProofOption{smarttest.ProofNonce("n")}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, target, nil)
			key.Authorize(t, r, tok, tc.opts...)
			if got := status(h, r); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}

	// One proof, one use.
	r := httptest.NewRequest(http.MethodGet, target, nil)
	key.Authorize(t, r, tok, smarttest.ProofJTI("once"))
	if first, again := status(h, r), status(h, r); first != 200 || again != 401 {
		t.Errorf("a proof used twice: %d then %d, want 200 then 401", first, again)
	}
	// The token alone, as a bearer token.
	r = httptest.NewRequest(http.MethodGet, target, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if got := status(h, r); got != 401 {
		t.Errorf("a bound token as a bearer token: %d, want 401", got)
	}
	// Another key's proof.
	r = httptest.NewRequest(http.MethodGet, target, nil)
	smarttest.NewDPoPKey(t, "ES256").Authorize(t, r, tok)
	if got := status(h, r); got != 401 {
		t.Errorf("a proof of another key: %d, want 401", got)
	}
}

func TestDPoPKeyProofShape(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "RS256", "PS256", "EdDSA", "Ed25519"} {
		key := smarttest.NewDPoPKey(t, alg)
		if key.Algorithm() != alg || len(key.Thumbprint()) != 43 || key.PublicJWK()["kty"] == "" {
			t.Errorf("%s: algorithm %q, thumbprint %q, jwk %v", alg, key.Algorithm(), key.Thumbprint(), key.PublicJWK())
		}
		if p := key.Proof(t, "GET", "https://x.example/a?b#c", "tok"); strings.Count(p, ".") != 2 {
			t.Errorf("%s: proof %q is not a JWS", alg, p)
		}
	}
}

// TestDPoPKeyAuthorizeRelativeRequest: a request made with a path only is
// signed for https:// and its Host.
func TestDPoPKeyAuthorizeRelativeRequest(t *testing.T) {
	is := smarttest.NewIssuer(t)
	h := dpopGuard(t, is)
	key := smarttest.NewDPoPKey(t, "EdDSA")
	tok := is.Token(t, smarttest.Scopes("user/*.rs"), smarttest.BoundTo(key))
	r := httptest.NewRequest(http.MethodGet, "/r4/Patient/1", nil)
	r.Host = "fhir.example.org"
	key.Authorize(t, r, tok)
	// EdDSA is not among the default proof algorithms.
	if got := status(h, r); got != 401 {
		t.Errorf("status %d, want 401 (EdDSA not accepted by default)", got)
	}
	cfg := is.Config()
	cfg.Issuer.DPoP = smartmw.DPoPRequired
	cfg.DPoP.Algorithms = []string{"ES256", "EdDSA"}
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	key.Authorize(t, r, tok)
	if got := status(guard.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})), r); got != 200 {
		t.Errorf("status %d, want 200", got)
	}
}

// TestDPoPDocs runs docs/dpop.md: a Guard with a shared store and server
// nonces, and a client that follows its nonce.
func TestDPoPDocs(t *testing.T) {
	is := smarttest.NewIssuer(t)
	cfg := is.Config()
	ctx := t.Context()
	store := smartmw.NewMemoryStore(1000)
	nonceKey := []byte("0123456789abcdef0123456789abcdef") // rand.Read in real life
	cfg.Issuer.DPoP = smartmw.DPoPAllowed                  // or DPoPRequired
	cfg.DPoP = smartmw.DPoPOptions{
		Store:    store,    // shared by the replicas; default: in memory, this Guard only
		NonceKey: nonceKey, // optional server nonces: 32+ random bytes, the same on every replica
	}
	guard, err := smartmw.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	replica, err := smartmw.New(ctx, cfg) // same store, same key
	if err != nil {
		t.Fatal(err)
	}
	h := guard.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h2 := replica.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	key := smarttest.NewDPoPKey(t, "ES256")
	tok := is.Token(t, smarttest.Scopes("user/*.rs"), smarttest.BoundTo(key))
	r := httptest.NewRequest(http.MethodGet, "https://fhir.example.org/r4/Patient/1", nil)
	key.Authorize(t, r, tok) // Authorization: DPoP <tok>, DPoP: <proof>

	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	nonce := w.Header().Get("DPoP-Nonce")
	if w.Code != 401 || nonce == "" || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
		t.Fatalf("without a nonce: %d %q %q", w.Code, w.Header().Get("WWW-Authenticate"), nonce)
	}
	key.Authorize(t, r, tok, smarttest.ProofNonce(nonce))
	if got := status(h, r); got != 200 {
		t.Fatalf("with the nonce: %d", got)
	}
	if got := status(h2, r); got != 401 {
		t.Fatalf("the same proof on the replica: %d, want 401", got)
	}
	key.Authorize(t, r, tok, smarttest.ProofNonce(nonce))
	if got := status(h2, r); got != 200 {
		t.Fatalf("a fresh proof with the nonce on the replica: %d", got)
	}
}
