package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// ExampleGuard_Revoke serves an RFC 7009 revocation endpoint of your own
// next to the FHIR API: a token posted there is refused by the API from
// then on, cached or not.
func ExampleGuard_Revoke() {
	revoked := smartmw.NewRevocationList(smartmw.RevocationListOptions{})
	cfg := exampleConfig()
	cfg.Tokens.Revocations = revoked
	guard, err := smartmw.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	revoke := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Authenticate the client here, as your token endpoint does.
		err := guard.Revoke(r.Context(), r.PostFormValue("token"))
		switch {
		case err == nil, errors.Is(err, smartmw.ErrInvalidToken):
			// Revoked, or nothing to revoke: 200 either way (RFC 7009 §2.2).
		default: // nothing recorded: the client must try again
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"temporarily_unavailable"}`)
		}
	})
	fhir := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, `{"resourceType":"Bundle","type":"searchset","entry":[]}`)
	}))

	token := mintExample(jwt.MapClaims{
		"iss":     "https://auth.example.org/realms/fhir",
		"aud":     "https://fhir.example.org/r4",
		"jti":     "4f1c0b2e",
		"exp":     time.Now().Add(time.Hour).Unix(),
		"scope":   "patient/Observation.rs",
		"patient": "123",
	})
	search := func() {
		req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		fhir.ServeHTTP(rec, req)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Header().Get("WWW-Authenticate"))))
	}
	search() // cached from now on

	req := httptest.NewRequest(http.MethodPost, "/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	revoke.ServeHTTP(rec, req)
	fmt.Println("revoke:", rec.Code)

	search()
	// Output:
	// 200
	// revoke: 200
	// 401 Bearer realm="fhir", error="invalid_token", error_description="the token has been revoked"
}

// ExampleRevocationList_RevokeJTI feeds the list from your authorization
// server's revocation events, which name a token by its issuer, jti and
// expiry.
func ExampleRevocationList_RevokeJTI() {
	revoked := smartmw.NewRevocationList(smartmw.RevocationListOptions{})
	cfg := exampleConfig()
	cfg.Tokens.Revocations = revoked
	guard, err := smartmw.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	token := mintExample(jwt.MapClaims{
		"iss":   "https://auth.example.org/realms/fhir",
		"aud":   "https://fhir.example.org/r4",
		"jti":   "4f1c0b2e",
		"exp":   exp.Unix(),
		"scope": "user/Observation.rs",
	})

	// The event: {"iss": ..., "jti": "4f1c0b2e", "exp": ...}.
	if err := revoked.RevokeJTI("https://auth.example.org/realms/fhir", "4f1c0b2e", exp); err != nil {
		log.Fatal(err) // not recorded (the list is full): alert, retry
	}

	_, err = guard.Verify(context.Background(), token)
	fmt.Println(errors.Is(err, smartmw.ErrInvalidToken), errors.Is(err, smartmw.ErrRevoked))
	// Output: true true
}
