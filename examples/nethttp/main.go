// Command nethttp protects a FHIR API on a plain net/http ServeMux.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	smartmw "github.com/smartguard/smartguard/middleware"
)

// setup wires the FHIR API: the discovery document is public; the API
// goes through CORS, authentication and authorization.
func setup(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
	cfg.AllowedOrigins = origins // CORS for browser apps, answered before authentication
	p, err := fhirstore.Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(p.DiscoveryPath, p.Discovery)
	protected := p.Guard.Handler(p.Store)
	mux.Handle("/fhir", protected)  // the base itself: batch, transaction, system search
	mux.Handle("/fhir/", protected) // everything under it
	return mux, nil
}

func main() {
	issuer := flag.String("issuer", "", "the trusted authorization server")
	audience := flag.String("audience", "http://127.0.0.1:8081/fhir", "this server's FHIR base URL")
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	h, err := setup(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:      *issuer,
		Audience: *audience,
	}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}
