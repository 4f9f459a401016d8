// Command nethttp protects a small FHIR API with smartguard on a plain
// net/http ServeMux: CORS, then authentication, then authorization, then
// the handler.
//
//	go run ./nethttp -issuer https://auth.example.org -audience http://127.0.0.1:8081/fhir
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/smartguard/smartguard/examples/internal/fhirapi"
	smartmw "github.com/smartguard/smartguard/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	issuer := flag.String("issuer", "", "the authorization server to trust (required)")
	audience := flag.String("audience", "http://127.0.0.1:8081/fhir", "the FHIR base URL tokens must be issued for")
	origins := flag.String("cors-origin", "", "comma-separated browser app origins allowed to call the API")
	flag.Parse()
	h, err := setupRouter(context.Background(), smartmw.Config{Issuer: *issuer, Audience: *audience}, splitList(*origins))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// setupRouter returns the protected FHIR API:
// cors → auth → authz → handler.
func setupRouter(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
	auth, err := smartmw.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	authz, err := smartmw.NewAuthorizer(smartmw.AuthorizerConfig{Base: fhirapi.Base})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(fhirapi.Base+"/", smartmw.CORS(origins...)(auth.Handler(authz.Handler(fhirapi.New()))))
	return mux, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
