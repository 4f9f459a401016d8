// Command proxy puts SMART on FHIR in front of any FHIR server: it serves
// the discovery document, authenticates and authorizes each request, adds
// the patient compartment to searches, and forwards what is allowed.
//
//	go run -C examples ./proxy -upstream http://127.0.0.1:8080/fhir \
//	    -issuer https://auth.example.org -audience https://fhir.example.org/r4
//
// The upstream server knows nothing of SMART, so the authorizer's response
// guard (on by default) does what a handler would: it checks what comes
// back, and before an update, patch or delete by id it reads the stored
// resource through the proxy and checks it against the decision.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/wellknown"
)

type options struct {
	upstream             string
	forwardAuthorization bool
	origins              []string
}

// newProxy returns the protected reverse proxy for cfg.Audience, the
// public FHIR base, in front of o.upstream.
func newProxy(ctx context.Context, cfg smartmw.Config, doc wellknown.Configuration, o options) (http.Handler, error) {
	up, err := url.Parse(o.upstream)
	if err != nil || !up.IsAbs() {
		return nil, fmt.Errorf("proxy: -upstream %q is not an absolute URL", o.upstream)
	}
	base, err := url.Parse(cfg.Issuer.Audience)
	if err != nil {
		return nil, err
	}
	basePath := strings.TrimSuffix(base.Path, "/")
	cfg.AllowedOrigins = o.origins
	guard, err := smartmw.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	discovery, err := wellknown.Handler(doc)
	if err != nil {
		return nil, err
	}
	discoveryPath, err := wellknown.Path(cfg.Issuer.Audience)
	if err != nil {
		return nil, err
	}
	target := func(r *http.Request) *url.URL {
		u := *up
		u.Path = strings.TrimSuffix(up.Path, "/") + strings.TrimPrefix(r.URL.Path, basePath)
		u.RawPath = ""
		u.RawQuery = r.URL.RawQuery
		return &u
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target(pr.In) // the authorizer's rewritten query included
			pr.Out.Host = up.Host
			if !o.forwardAuthorization {
				pr.Out.Header.Del("Authorization")
			}
		},
	}
	mux := http.NewServeMux()
	mux.Handle(discoveryPath, discovery)
	mux.Handle(basePath+"/", guard.Handler(rp))
	return mux, nil
}

func main() {
	var o options
	flag.StringVar(&o.upstream, "upstream", "", "the FHIR server to protect, such as http://127.0.0.1:8080/fhir")
	issuer := flag.String("issuer", "", "the trusted authorization server")
	audience := flag.String("audience", "http://127.0.0.1:8085/fhir", "the proxy's public FHIR base URL, the audience of tokens")
	addr := flag.String("addr", "127.0.0.1:8085", "address to listen on")
	flag.BoolVar(&o.forwardAuthorization, "forward-authorization", false, "pass the client's Authorization header upstream")
	flag.Func("cors-origin", "a browser app origin allowed to call the API (repeatable)", func(v string) error {
		o.origins = append(o.origins, v)
		return nil
	})
	flag.Parse()
	ctx := context.Background()
	doc, err := wellknown.FromIssuer(ctx, *issuer, nil, wellknown.PermissionPatient, wellknown.PermissionUser,
		wellknown.PermissionV1, wellknown.PermissionV2)
	if err != nil {
		log.Fatal(err)
	}
	h, err := newProxy(ctx, smartmw.Config{Issuer: smartmw.Issuer{
		URL:      *issuer,
		Audience: *audience,
	}}, *doc, o)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("proxy: %s → %s", *audience, o.upstream)
	log.Fatal(http.ListenAndServe(*addr, h))
}
