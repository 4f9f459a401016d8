package smarttest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/smarttest"
)

// A unit test of an application's rule: this patient app may read the
// Observations of its own patient and nothing else. WithGrant stands in
// for authentication; authorization (Guard.Authorize) is the real one.
func ExampleWithGrant() {
	guard, err := smartmw.New(context.Background(), smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      "https://auth.example.org",
			Audience: "https://ehr.example.org/fhir",
			Keyfunc:  func(*jwt.Token) (any, error) { return nil, errors.New("no keys") },
		},
		// No token is verified here: WithGrant stands in for them.
	})
	if err != nil {
		panic(err)
	}
	fhir := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset"}`)
	})
	h := guard.Authorize(fhir)
	for _, target := range []string{
		"/fhir/Observation?patient=123", // its own patient
		"/fhir/Observation?patient=456", // another patient
		"/fhir/Condition?patient=123",   // a type its scopes do not name
	} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r = smarttest.WithGrant(r, "launch/patient patient/Observation.rs", smartctx.Claims{Patient: "123"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(target, w.Code)
	}
	// Output:
	// /fhir/Observation?patient=123 200
	// /fhir/Observation?patient=456 403
	// /fhir/Condition?patient=123 403
}

// A test of a handler behind a Guard that accepts DPoP-bound tokens (RFC
// 9449): the token is bound to the client's key, and each request carries
// a fresh proof of that key for its method and URL. (An example of a test
// function: t is the test's.)
func ExampleDPoPKey() {
	var t *testing.T // the test's
	is := smarttest.NewIssuer(t)
	cfg := is.Config()
	cfg.Issuer.DPoP = smartmw.DPoPAllowed
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	key := smarttest.NewDPoPKey(t, "ES256")
	tok := is.Token(t, smarttest.Scopes("user/*.rs"), smarttest.BoundTo(key))
	r := httptest.NewRequest(http.MethodGet, "https://fhir.example.org/r4/Patient/1", nil)
	key.Authorize(t, r, tok) // Authorization: DPoP <tok>, DPoP: <proof>
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code) // 200; the same request again: 401, its proof is used
}

// The same rule tested end to end with a real token from a test issuer:
// signature, audience and expiry are checked as in production.
func TestPatientAppReadsOnlyItsOwnObservations(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	fhir := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset"}`)
	})
	h := guard.Handler(fhir)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
	for _, tc := range []struct {
		target string
		token  string
		want   int
	}{
		{"/r4/Observation?patient=123", tok, 200},
		{"/r4/Observation?patient=456", tok, 403},
		{"/r4/Condition?patient=123", tok, 403},
		{"/r4/Observation?patient=123", "", 401},
		{"/r4/Observation?patient=123", is.Token(t, smarttest.Scopes("patient/Observation.rs"), smarttest.Patient("123"), smarttest.Expired()), 401},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.target, w.Code, tc.want)
		}
	}
}

// Grant builds the grant a token would carry, for code that takes a
// grant rather than a request: here, the scope check itself.
func ExampleGrant() {
	g := smarttest.Grant("launch/patient patient/Observation.rs", smartctx.Claims{Patient: "123"})
	fmt.Println("patient:", g.Patient())
	fmt.Println("read Observation:", g.Allows(scope.Patient, "Observation", scope.Read))
	fmt.Println("read Condition:", g.Allows(scope.Patient, "Condition", scope.Read))
	fmt.Println("create Observation:", g.Allows(scope.Patient, "Observation", scope.Create))
	// Output:
	// patient: 123
	// read Observation: true
	// read Condition: false
	// create Observation: false
}

// TestREADMELines runs the README's smarttest lines verbatim.
func TestREADMELines(t *testing.T) {
	is := smarttest.NewIssuer(t)                        // stops with the test
	guard, err := smartmw.New(t.Context(), is.Config()) // trusts the test issuer
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
	bad := is.Token(t, smarttest.Expired()) // also WrongAudience, WrongIssuer, UnknownKey, BadSignature
	is.RotateKey(t)                         // new kid; the old key is no longer published

	if err != nil {
		t.Fatal(err)
	}
	if _, err := guard.Verify(t.Context(), bad); err == nil {
		t.Error("an expired token verified")
	}
	// The new key's first token makes the Guard fetch the JWKS again;
	// then the old key is gone from it too.
	if _, err := guard.Verify(t.Context(), is.Token(t, smarttest.Scopes("patient/Observation.rs"), smarttest.Patient("123"))); err != nil {
		t.Errorf("a token of the new key: %v", err)
	}
	if _, err := guard.Verify(t.Context(), tok); err == nil {
		t.Error("a token of the key rotated away verified after the JWKS was fetched again")
	}
}

// A test of token expiry on a clock of the test's own: the Issuer mints
// by it and its Config gives the Guard the same clock, so no test sleeps
// and the answers do not depend on the day.
func ExampleClock() {
	var t *testing.T // the test's
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	is := smarttest.NewIssuer(t, smarttest.Clock(func() time.Time { return now }))
	guard, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	tok := is.Token(t, smarttest.Scopes("user/*.rs"), smarttest.Lifetime(5*time.Minute))
	if _, err := guard.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Minute)
	if _, err := guard.Verify(t.Context(), tok); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("five minutes' token ten minutes on: %v, want expired", err)
	}
}

// A test that a handler's Guard reads a token no TokenOption describes
// as documented: a payload naming "patient" twice takes the last.
func ExampleIssuer_SignRaw() {
	var t *testing.T // the test's
	is := smarttest.NewIssuer(t)
	guard, err := smartmw.New(t.Context(), is.Config())
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	tok := is.SignRaw(t, `{"alg":"RS256","typ":"at+jwt","kid":"`+is.KeyID()+`"}`,
		fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d,"patient":"p1","patient":"p2"}`, is.URL(), is.Audience(), exp))
	g, err := guard.Verify(t.Context(), tok)
	if err != nil || g.Patient() != "p2" {
		t.Errorf("patient %v, %v; want p2", g, err)
	}
}
