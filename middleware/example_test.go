package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
)

// exampleKey stands in for the authorization server's signing key.
var exampleKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

// mintExample issues an access token as the authorization server would.
func mintExample(claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = "at+jwt"
	s, err := tok.SignedString(exampleKey)
	if err != nil {
		log.Fatal(err)
	}
	return s
}

func exampleConfig() smartmw.Config {
	return smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      "https://auth.example.org/realms/fhir",
			Audience: "https://fhir.example.org/r4",
			Keyfunc:  func(*jwt.Token) (any, error) { return &exampleKey.PublicKey, nil },
		},
		// A static key in place of the JWKS, for the example.
	}
}

func ExampleNew() {
	auth, err := smartmw.New(context.Background(), exampleConfig())
	if err != nil {
		log.Fatal(err)
	}
	token := mintExample(jwt.MapClaims{
		"iss":       "https://auth.example.org/realms/fhir",
		"aud":       "https://fhir.example.org/r4",
		"sub":       "user-1",
		"client_id": "growth-chart",
		"exp":       time.Now().Add(time.Hour).Unix(),
		"scope":     "launch/patient patient/Observation.rs",
		"patient":   "123",
	})
	g, err := auth.Verify(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g.ClientID(), g.Patient(), g.Scopes())
	// Output: growth-chart 123 launch/patient patient/Observation.rs
}

func ExampleGuard_Handler() {
	guard, err := smartmw.New(context.Background(), exampleConfig())
	if err != nil {
		log.Fatal(err)
	}
	fhir := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := smartctx.DecisionFromContext(r.Context())
		fmt.Printf("handler: %s %s in the compartment of Patient/%s\n", d.Request().Interaction, d.Request().Type, d.Limits().Patient)
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset","entry":[]}`)
	})
	h := guard.Handler(fhir)

	// Without a token: 401 and a bare challenge.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	// With a token.
	req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
	req.Header.Set("Authorization", "Bearer "+mintExample(jwt.MapClaims{
		"iss":     "https://auth.example.org/realms/fhir",
		"aud":     "https://fhir.example.org/r4",
		"exp":     time.Now().Add(time.Hour).Unix(),
		"scope":   "patient/Observation.rs",
		"patient": "123",
	}))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)

	// With an expired token.
	req.Header.Set("Authorization", "Bearer "+mintExample(jwt.MapClaims{
		"iss": "https://auth.example.org/realms/fhir",
		"aud": "https://fhir.example.org/r4",
		"exp": time.Now().Add(-time.Hour).Unix(),
	}))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer realm="fhir"
	// handler: search-type Observation in the compartment of Patient/123
	// 200 {"resourceType":"Bundle","type":"searchset","entry":[]}
	// 401 Bearer realm="fhir", error="invalid_token", error_description="token expired"
}
