// Command gin protects a FHIR API on a gin engine.
//
// smartguard's stages are net/http middleware. The FHIR routes are mounted
// as one net/http handler (gin.WrapH) with the whole chain around it, so
// that the authorizer's response guard sees what the FHIR handler writes:
// an adapter that called c.Next() from inside the chain would let gin
// write past the guard. Gin handlers that serve FHIR data behind the
// chain read the grant with smartctx.FromContext(c.Request.Context()).
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	smartmw "github.com/smartguard/smartguard/middleware"
)

func setup(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
	cfg.AllowedOrigins = origins // CORS for browser apps, answered before authentication
	p, err := fhirstore.Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// gin's router cannot hold both /fhir/.well-known/... and /fhir/*path,
	// so one catch-all hands /fhir/ to a net/http mux.
	fhir := http.NewServeMux()
	fhir.Handle(p.DiscoveryPath, p.Discovery) // public, any origin
	fhir.Handle("/fhir/", p.Guard.Handler(p.Store))
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Any("/fhir/*path", gin.WrapH(fhir))
	return r, nil
}

func main() {
	issuer := flag.String("issuer", "", "the trusted authorization server")
	audience := flag.String("audience", "http://127.0.0.1:8083/fhir", "this server's FHIR base URL")
	addr := flag.String("addr", "127.0.0.1:8083", "address to listen on")
	flag.Parse()
	h, err := setup(context.Background(), smartmw.Config{Issuer: *issuer, Audience: *audience}, nil)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}
