// Command echo protects a small FHIR API with smartguard on an echo
// server. A thin adapter runs each net/http stage as echo middleware: the
// stage's own ErrorHandler writes a refusal, and the adapter then returns
// without calling the next handler and without writing a second body.
//
//	go run ./echo -issuer https://auth.example.org -audience http://127.0.0.1:8084/fhir
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/smartguard/smartguard/examples/internal/fhirapi"
	smartmw "github.com/smartguard/smartguard/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8084", "address to listen on")
	issuer := flag.String("issuer", "", "the authorization server to trust (required)")
	audience := flag.String("audience", "http://127.0.0.1:8084/fhir", "the FHIR base URL tokens must be issued for")
	origins := flag.String("cors-origin", "", "comma-separated browser app origins allowed to call the API")
	flag.Parse()
	h, err := setupRouter(context.Background(), smartmw.Config{Issuer: *issuer, Audience: *audience}, splitList(*origins))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// adapt runs a net/http middleware as echo middleware. When the stage
// passes the request on, the rest of the echo chain runs with the
// stage's request and writer (so the response guard sees what the
// handler writes); when the stage answers itself, nothing else runs.
func adapt(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var nextErr error
			orig := c.Response().Writer
			mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				c.Response().Writer = w
				defer func() { c.Response().Writer = orig }()
				nextErr = next(c)
			})).ServeHTTP(orig, c.Request())
			return nextErr
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
	authz, err := smartmw.NewAuthorizer(smartmw.AuthorizerConfig{Base: fhirapi.Base})
	if err != nil {
		return nil, err
	}
	st := fhirapi.New()
	e := echo.New()
	e.HideBanner = true
	g := e.Group(fhirapi.Base, adapt(smartmw.CORS(origins...)), adapt(auth.Handler), adapt(authz.Handler))
	g.GET("/:type", func(c echo.Context) error {
		status, body := st.Search(c.Request(), c.Param("type"), c.QueryParams())
		return c.Blob(status, "application/fhir+json", body)
	})
	g.GET("/:type/:id", func(c echo.Context) error {
		status, body := st.Read(c.Request(), c.Param("type"), c.Param("id"))
		return c.Blob(status, "application/fhir+json", body)
	})
	// A route for preflights, so that the group's CORS stage runs.
	g.OPTIONS("/*", func(c echo.Context) error { return nil })
	return e, nil
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
