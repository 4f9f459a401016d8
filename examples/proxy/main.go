// Command proxy puts SMART on FHIR in front of any existing FHIR server.
// It serves the SMART discovery document (built from the authorization
// server's metadata), authenticates bearer tokens, authorizes every FHIR
// REST request, and passes allowed ones to the upstream server with
// searches rewritten to the patient's compartment, so that the upstream
// only ever returns that patient's data. The response guard checks what
// comes back before the client sees it.
//
//	go run ./proxy -upstream http://hapi.example.org/fhir \
//	    -issuer https://auth.example.org -audience http://127.0.0.1:8085/fhir
//
// The client's Authorization header is not forwarded upstream unless
// -forward-authorization is set.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/wellknown"
)

// options are the proxy's settings.
type options struct {
	upstream             string         // the FHIR server's base URL
	issuer, audience     string         // the authorization server; the proxy's FHIR base URL
	corsOrigins          []string       // browser app origins allowed to call the API
	forwardAuthorization bool           // pass the client's Authorization header upstream
	auth                 smartmw.Config // extra authentication settings (tests); Issuer and Audience come from above
	client               *http.Client   // fetches the issuer's metadata; nil for the default
}

func main() {
	var o options
	addr := flag.String("addr", "127.0.0.1:8085", "address to listen on")
	flag.StringVar(&o.upstream, "upstream", "", "base URL of the FHIR server to protect (required)")
	flag.StringVar(&o.issuer, "issuer", "", "the authorization server to trust (required)")
	flag.StringVar(&o.audience, "audience", "http://127.0.0.1:8085/fhir", "this proxy's FHIR base URL, the audience of its tokens")
	flag.BoolVar(&o.forwardAuthorization, "forward-authorization", false, "forward the client's Authorization header to the upstream")
	flag.Func("cors-origin", "a browser app origin allowed to call the API (repeatable, or a comma list)", func(v string) error {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.corsOrigins = append(o.corsOrigins, s)
			}
		}
		return nil
	})
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := newServer(ctx, o)
	if err != nil {
		log.Fatalf("proxy: %v", err)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("proxy: %s/ → %s", o.audience, o.upstream)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("proxy: %v", err)
	}
}

// newServer returns the proxy: discovery, and cors → auth → authz →
// reverse proxy under the audience's path.
func newServer(ctx context.Context, o options) (http.Handler, error) {
	if o.upstream == "" || o.issuer == "" || o.audience == "" {
		return nil, errors.New("-upstream, -issuer and -audience are required")
	}
	up, err := url.Parse(o.upstream)
	if err != nil || up.Scheme == "" || up.Host == "" {
		return nil, errors.New("-upstream must be an absolute URL")
	}
	aud, err := url.Parse(o.audience)
	if err != nil || aud.Scheme == "" || aud.Host == "" {
		return nil, errors.New("-audience must be an absolute URL")
	}
	base := strings.TrimSuffix(aud.Path, "/")

	doc, err := wellknown.FromIssuer(ctx, o.issuer, o.client)
	if err != nil {
		return nil, err
	}
	describe(doc)
	discovery, err := wellknown.Handler(*doc)
	if err != nil {
		return nil, err
	}
	cfg := o.auth
	cfg.Issuer, cfg.Audience = o.issuer, o.audience
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = doc.JWKSURI
	}
	auth, err := smartmw.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// RewriteSearch: a patient app's search without the compartment is
	// narrowed to it rather than refused. The response guard (on by
	// default) checks what the upstream returns.
	authz, err := smartmw.NewAuthorizer(smartmw.AuthorizerConfig{Base: base, RewriteSearch: true})
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, base)
			pr.Out.URL.RawPath = ""
			pr.SetURL(up)
			pr.SetXForwarded()
			if !o.forwardAuthorization {
				pr.Out.Header.Del("Authorization")
			}
			// The response guard reads plain JSON; the transport asks
			// for gzip itself and decompresses it.
			pr.Out.Header.Del("Accept-Encoding")
		},
	}
	mux := http.NewServeMux()
	mux.Handle(base+"/.well-known/smart-configuration", discovery)
	mux.Handle(base+"/", smartmw.CORS(o.corsOrigins...)(auth.Handler(authz.Handler(rp))))
	return mux, nil
}

// describe fills what the authorization server's metadata cannot say: the
// capabilities of this FHIR endpoint. Change them to what your apps and
// authorization server really do.
func describe(doc *wellknown.Configuration) {
	caps := []wellknown.Capability{wellknown.PermissionPatient, wellknown.PermissionUser, wellknown.PermissionV1, wellknown.PermissionV2}
	if doc.AuthorizationEndpoint != "" {
		caps = append(caps, wellknown.LaunchStandalone, wellknown.ClientPublic, wellknown.ContextStandalonePatient)
	}
	if doc.Issuer != "" && doc.JWKSURI != "" {
		caps = append(caps, wellknown.SSOOpenIDConnect)
	} else {
		doc.Issuer = ""
	}
	doc.Capabilities = caps
	if len(doc.CodeChallengeMethodsSupported) == 0 {
		doc.CodeChallengeMethodsSupported = []string{"S256"}
	}
}
