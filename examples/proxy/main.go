// Command proxy puts SMART on FHIR in front of any FHIR server: it serves
// the discovery document, authenticates and authorizes each request, adds
// the patient compartment to searches, and forwards what is allowed.
//
//	go run -C examples ./proxy -upstream http://127.0.0.1:8080/fhir \
//	    -issuer https://auth.example.org -audience https://fhir.example.org/r4
//
// The upstream server knows nothing of SMART, so the proxy enforces what a
// handler would: the response guard (on by default in the authorizer)
// checks what comes back, and before an update, patch or delete the proxy
// reads the stored resource from upstream and checks it against the
// decision.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
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
	base, err := url.Parse(cfg.Audience)
	if err != nil {
		return nil, err
	}
	basePath := strings.TrimSuffix(base.Path, "/")
	auth, err := smartmw.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	authz, err := smartmw.NewAuthorizer(smartmw.AuthorizerConfig{Base: cfg.Audience, RewriteSearch: true})
	if err != nil {
		return nil, err
	}
	discovery, err := wellknown.Handler(doc)
	if err != nil {
		return nil, err
	}
	discoveryPath, err := wellknown.Path(cfg.Audience)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second}
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
	forward := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := smartctx.DecisionFromContext(r.Context())
		if !ok {
			http.Error(w, "no decision", http.StatusInternalServerError)
			return
		}
		switch d.Interaction {
		case scope.InteractionUpdate, scope.InteractionPatch, scope.InteractionDelete:
			if d.Restricted() && !storedPermitted(r.Context(), client, target(r), d) {
				writeOutcome(w, http.StatusForbidden, "forbidden", "the token does not allow this resource")
				return
			}
		}
		rp.ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle(discoveryPath, discovery)
	mux.Handle(basePath+"/", smartmw.CORS(o.origins...)(auth.Handler(authz.Handler(forward))))
	return mux, nil
}

// storedPermitted reads the resource at u from upstream and checks it
// against d: the one check the authorizer cannot make, as it cannot see
// the stored version. A resource that does not exist yet is permitted
// (the body of an update-as-create was checked already); anything else
// the proxy cannot read is not.
func storedPermitted(ctx context.Context, client *http.Client, u *url.URL, d *smartctx.Decision) bool {
	read := *u
	read.RawQuery = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, read.String(), nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return true
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	ok, err := smartmw.Permits(d, body)
	return err == nil && ok
}

func writeOutcome(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":%q,"diagnostics":%q}]}`, code, msg)
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
	doc, err := wellknown.FromIssuer(ctx, *issuer, nil)
	if err != nil {
		log.Fatal(err)
	}
	doc.Issuer = "" // no sso-openid-connect capability is claimed
	doc.Capabilities = []wellknown.Capability{wellknown.PermissionPatient, wellknown.PermissionUser,
		wellknown.PermissionV1, wellknown.PermissionV2}
	h, err := newProxy(ctx, smartmw.Config{Issuer: *issuer, Audience: *audience}, *doc, o)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("proxy: %s → %s", *audience, o.upstream)
	log.Fatal(http.ListenAndServe(*addr, h))
}
