// Command gin protects a small FHIR API with smartguard on a gin engine.
// A thin adapter runs each net/http stage as gin middleware: the stage's
// own ErrorHandler writes a refusal, and the adapter then only aborts,
// never writing a second body.
//
//	go run ./gin -issuer https://auth.example.org -audience http://127.0.0.1:8083/fhir
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smartguard/smartguard/examples/internal/fhirapi"
	smartmw "github.com/smartguard/smartguard/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8083", "address to listen on")
	issuer := flag.String("issuer", "", "the authorization server to trust (required)")
	audience := flag.String("audience", "http://127.0.0.1:8083/fhir", "the FHIR base URL tokens must be issued for")
	origins := flag.String("cors-origin", "", "comma-separated browser app origins allowed to call the API")
	flag.Parse()
	h, err := setupRouter(context.Background(), smartmw.Config{Issuer: *issuer, Audience: *audience}, splitList(*origins))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// adapt runs a net/http middleware as gin middleware. When the stage
// passes the request on, the (possibly enriched) request continues down
// the gin chain; when it answers itself (a refusal, a CORS preflight),
// the chain is aborted and nothing else is written.
func adapt(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}

// setupRouter returns the protected FHIR API:
// cors → auth → authz → handlers.
func setupRouter(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
	auth, err := smartmw.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// gin handlers write to gin's own writer, not to the one the
	// response guard would hand them, so the guard is off and the
	// handlers apply the decision themselves (fhirapi uses
	// smartmw.Permits on everything it returns).
	authz, err := smartmw.NewAuthorizer(smartmw.AuthorizerConfig{Base: fhirapi.Base, SkipResponseGuard: true})
	if err != nil {
		return nil, err
	}
	st := fhirapi.New()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	g := r.Group(fhirapi.Base, adapt(smartmw.CORS(origins...)), adapt(auth.Handler), adapt(authz.Handler))
	g.GET("/:type", func(c *gin.Context) {
		status, body := st.Search(c.Request, c.Param("type"), c.Request.URL.Query())
		c.Data(status, "application/fhir+json", body)
	})
	g.GET("/:type/:id", func(c *gin.Context) {
		status, body := st.Read(c.Request, c.Param("type"), c.Param("id"))
		c.Data(status, "application/fhir+json", body)
	})
	// A route for preflights, so that the group's CORS stage runs.
	g.OPTIONS("/*path", func(c *gin.Context) {})
	return r, nil
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
