// Command chi protects a small FHIR API with smartguard on a chi router:
// the smartguard stages are plain func(http.Handler) http.Handler, so
// r.Use takes them as they are.
//
//	go run ./chi -issuer https://auth.example.org -audience http://127.0.0.1:8082/fhir
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/smartguard/smartguard/examples/internal/fhirapi"
	smartmw "github.com/smartguard/smartguard/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "address to listen on")
	issuer := flag.String("issuer", "", "the authorization server to trust (required)")
	audience := flag.String("audience", "http://127.0.0.1:8082/fhir", "the FHIR base URL tokens must be issued for")
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
	r := chi.NewRouter()
	r.Route(fhirapi.Base, func(r chi.Router) {
		r.Use(smartmw.CORS(origins...), auth.Handler, authz.Handler)
		r.Get("/{type}", func(w http.ResponseWriter, r *http.Request) {
			status, body := st.Search(r, chi.URLParam(r, "type"), r.URL.Query())
			fhirapi.Write(w, status, body)
		})
		r.Get("/{type}/{id}", func(w http.ResponseWriter, r *http.Request) {
			status, body := st.Read(r, chi.URLParam(r, "type"), chi.URLParam(r, "id"))
			fhirapi.Write(w, status, body)
		})
		// chi answers OPTIONS with 405 unless a route exists; CORS in
		// r.Use answers the preflight before this is reached.
		r.Options("/*", func(w http.ResponseWriter, r *http.Request) {})
	})
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
