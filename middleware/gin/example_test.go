package smartgin_test

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

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
	smartgin "github.com/smartguard/smartguard/middleware/gin"
	"github.com/smartguard/smartguard/wellknown"
)

// exampleKey stands in for the authorization server's signing key.
var exampleKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

// exampleToken issues an access token for patient 123, as the
// authorization server would.
func exampleToken() string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss":     "https://auth.example.org/realms/fhir",
		"aud":     "https://fhir.example.org/fhir",
		"exp":     time.Now().Add(time.Hour).Unix(),
		"scope":   "launch/patient patient/Observation.rs",
		"patient": "123",
	})
	s, err := tok.SignedString(exampleKey)
	if err != nil {
		log.Fatal(err)
	}
	return s
}

// An Observation handler that forgets to check the patient: Protect
// refuses what it must not hand out.
func Example() {
	guard, err := smartmw.New(context.Background(), smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      "https://auth.example.org/realms/fhir",
			Audience: "https://fhir.example.org/fhir",
			Keyfunc:  func(*jwt.Token) (any, error) { return &exampleKey.PublicKey, nil },
		},
		// A static key in place of the issuer's JWKS, for the example.
	})
	if err != nil {
		log.Fatal(err)
	}
	discovery, err := wellknown.Handler(wellknown.Configuration{
		AuthorizationEndpoint:         "https://auth.example.org/realms/fhir/authorize",
		TokenEndpoint:                 "https://auth.example.org/realms/fhir/token",
		GrantTypesSupported:           []string{"authorization_code"},
		CodeChallengeMethodsSupported: []string{"S256"},
		Capabilities:                  []wellknown.Capability{wellknown.LaunchStandalone, wellknown.PermissionPatient, wellknown.PermissionV2},
	})
	if err != nil {
		log.Fatal(err)
	}
	observations := map[string]string{
		"obs-123": `{"resourceType":"Observation","id":"obs-123","subject":{"reference":"Patient/123"}}`,
		"obs-456": `{"resourceType":"Observation","id":"obs-456","subject":{"reference":"Patient/456"}}`,
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", gin.WrapH(discovery))
	fhir := r.Group("/fhir", smartgin.Protect(guard, r))
	fhir.GET("/Observation/:id", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/fhir+json", []byte(observations[c.Param("id")]))
	})

	token := exampleToken()
	for _, target := range []string{
		"/fhir/.well-known/smart-configuration",
		"/fhir/Observation/obs-123",
		"/fhir/Observation/obs-456",
	} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if target != "/fhir/.well-known/smart-configuration" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(target, w.Code)
	}
	// Output:
	// /fhir/.well-known/smart-configuration 200
	// /fhir/Observation/obs-123 200
	// /fhir/Observation/obs-456 403
}
