package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// An authorization server whose access tokens are opaque (Ory Hydra's
// default, oidc-provider's, an EHR's): the Guard asks its RFC 7662
// introspection endpoint about each token it has not seen, with its own
// client credentials, and reads the launch context from the answer (here
// under "ext", as Hydra puts it).
func ExampleIntrospection() {
	// A stand-in for the authorization server's introspection endpoint.
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if id != "fhir-server" || secret != "s3cret" || r.PostFormValue("token") != "ory_at_example" {
			fmt.Fprint(w, `{"active":false}`)
			return
		}
		fmt.Fprintf(w, `{"active":true,"client_id":"app","scope":"launch/patient patient/Observation.rs",
			"exp":%d,"iss":"https://auth.example.org","aud":["https://fhir.example.org/r4"],
			"token_use":"access_token","ext":{"patient":"123"}}`, time.Now().Add(time.Hour).Unix())
	}))
	defer as.Close()

	guard, err := smartmw.New(context.Background(), smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      "https://auth.example.org",
			Audience: "https://fhir.example.org/r4",
			Format:   smartmw.TokensIntrospect, // no JWKS is fetched
			Introspection: smartmw.Introspection{
				Endpoint: as.URL + "/admin/oauth2/introspect",   // default: introspection_endpoint of the issuer's metadata
				ClientID: "fhir-server", ClientSecret: "s3cret", // client_secret_basic
			},
			Claims: smartmw.ClaimNames{Patient: []string{"ext.patient"}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	g, err := guard.Verify(context.Background(), "ory_at_example")
	fmt.Println(g.Patient(), g.ClientID(), err)
	_, err = guard.Verify(context.Background(), "ory_at_unknown")
	fmt.Println(err)
	// Output:
	// 123 app <nil>
	// middleware: invalid_token: token not active: introspection: token not active
}
