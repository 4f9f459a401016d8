// Command chi protects a FHIR API on a chi router: each stage is a chi
// middleware, used with r.Use.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	smartmw "github.com/smartguard/smartguard/middleware"
)

func setup(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
	cfg.AllowedOrigins = origins // CORS for browser apps, answered before authentication
	p, err := fhirstore.Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Handle(p.DiscoveryPath, p.Discovery) // public, any origin
	r.Group(func(r chi.Router) {
		r.Use(p.Guard.Handler)       // CORS, 401, 403, and the response guard
		r.Handle("/fhir", p.Store)   // the base itself: batch, transaction, system search
		r.Handle("/fhir/*", p.Store) // everything under it
	})
	return r, nil
}

func main() {
	issuer := flag.String("issuer", "", "the trusted authorization server")
	audience := flag.String("audience", "http://127.0.0.1:8082/fhir", "this server's FHIR base URL")
	addr := flag.String("addr", "127.0.0.1:8082", "address to listen on")
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
