// Command echo protects a FHIR API on an echo server with
// smartecho.Protect.
//
// Protect, the middleware of the /fhir group, runs the whole Guard around
// the echo handlers: what they write goes through the response guard,
// and the Guard's read of the stored resource before an update or delete
// goes through echo to the GET route. Echo handlers read the grant with
// smartctx.FromContext(c.Request().Context()).
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartecho "github.com/smartguard/smartguard/middleware/echo"
)

func setup(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
	cfg.AllowedOrigins = origins // CORS for browser apps, answered before authentication
	p, err := fhirstore.Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner = true
	e.Use(middleware.Recover())
	// Public, any origin, outside Protect.
	e.Match([]string{http.MethodGet, http.MethodHead, http.MethodOptions}, p.DiscoveryPath, echo.WrapHandler(p.Discovery))
	// CORS, 401, 403, and the response guard.
	fhir := e.Group("/fhir", smartecho.Protect(p.Guard, e))
	store := echo.WrapHandler(p.Store)
	fhir.Any("", store)
	fhir.Any("/*", store)
	return e, nil
}

func main() {
	issuer := flag.String("issuer", "", "the trusted authorization server")
	audience := flag.String("audience", "http://127.0.0.1:8084/fhir", "this server's FHIR base URL")
	addr := flag.String("addr", "127.0.0.1:8084", "address to listen on")
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
