// Command echo protects a FHIR API on an echo server.
//
// As with gin, the FHIR routes are one net/http handler (echo.WrapHandler)
// with smartguard's chain around it, so that the authorizer's response
// guard sees what the FHIR handler writes.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	smartmw "github.com/smartguard/smartguard/middleware"
)

func setup(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
	cfg.AllowedOrigins = origins // CORS for browser apps, answered before authentication
	p, err := fhirstore.Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner = true
	e.Match([]string{http.MethodGet, http.MethodHead, http.MethodOptions}, p.DiscoveryPath, echo.WrapHandler(p.Discovery))
	e.Any("/fhir/*", echo.WrapHandler(p.Guard.Handler(p.Store)))
	return e, nil
}

func main() {
	issuer := flag.String("issuer", "", "the trusted authorization server")
	audience := flag.String("audience", "http://127.0.0.1:8084/fhir", "this server's FHIR base URL")
	addr := flag.String("addr", "127.0.0.1:8084", "address to listen on")
	flag.Parse()
	h, err := setup(context.Background(), smartmw.Config{Issuer: *issuer, Audience: *audience}, nil)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}
