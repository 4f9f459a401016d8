// Command gin protects a FHIR API on a gin engine with smartgin.Protect.
//
// Protect runs the whole Guard around the gin handlers of the FHIR
// routes: what they write goes through the response guard, and the
// Guard's read of the stored resource before an update or delete goes
// through the engine to the GET route. gin's router cannot hold
// /fhir/*path beside the discovery document, so the FHIR API (one
// net/http handler here) is mounted on "", "/:type" and "/:type/*rest".
// Gin handlers read the grant with smartctx.FromContext(c.Request.Context()).
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartgin "github.com/smartguard/smartguard/middleware/gin"
)

func setup(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
	cfg.AllowedOrigins = origins // CORS for browser apps, answered before authentication
	p, err := fhirstore.Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	// Public, any origin, outside Protect.
	r.Match([]string{http.MethodGet, http.MethodHead, http.MethodOptions}, p.DiscoveryPath, gin.WrapH(p.Discovery))
	// CORS, 401, 403, and the response guard.
	fhir := r.Group("/fhir", smartgin.Protect(p.Guard, r))
	store := gin.WrapH(p.Store)
	for _, path := range []string{"", "/:type", "/:type/*rest"} {
		fhir.Any(path, store)
	}
	return r, nil
}

func main() {
	issuer := flag.String("issuer", "", "the trusted authorization server")
	audience := flag.String("audience", "http://127.0.0.1:8083/fhir", "this server's FHIR base URL")
	addr := flag.String("addr", "127.0.0.1:8083", "address to listen on")
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
