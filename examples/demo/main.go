// Command demo runs a FHIR R4 API protected by smartguard, with sample
// data and, unless -issuer names a real authorization server, an embedded
// development authorization server on the same port.
//
//	go run -C examples ./demo
//
// It prints curl commands to try: get a token for a patient app, read that
// patient, search their laboratory results, and see another patient's
// data refused. It also prints the URL of its browser pages, where a demo
// SMART app is launched standalone or from a small EHR page.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/smartguard/smartguard/examples/internal/devauth"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/wellknown"
)

// options are the demo's flags.
type options struct {
	addr               string
	issuer             string
	audience           string
	corsOrigins        []string
	unknownKIDInterval time.Duration
	leeway             time.Duration
	tokenTTL           time.Duration
	waitForKeys        time.Duration
	auth               authFlags
	policyFile         string    // an AccessPolicy as JSON; "" for none
	auditLog           io.Writer // the guard's decisions, as slog lines; nil for none
	exportKey          string    // signs Bulk Data job URLs; random when empty
	dpop               dpopFlags // DPoP, and the store replicas share (-redis)
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	flag.StringVar(&o.issuer, "issuer", "", "a real authorization server to trust instead of the embedded development one")
	flag.StringVar(&o.audience, "audience", "", "the FHIR base URL tokens must be issued for (default http://ADDR/fhir)")
	flag.Func("cors-origin", "a browser app origin allowed to call the FHIR API (repeatable, or a comma list)", func(v string) error {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.corsOrigins = append(o.corsOrigins, s)
			}
		}
		return nil
	})
	flag.DurationVar(&o.unknownKIDInterval, "unknown-kid-interval", 0, "least time between JWKS refreshes caused by unknown key ids (default the library's, 15s)")
	flag.DurationVar(&o.unknownKIDInterval, "jwks-refresh-unknown-kid", 0, "same as -unknown-kid-interval")
	flag.DurationVar(&o.leeway, "leeway", 0, "clock skew allowed on exp, nbf and iat (default the library's, 30s)")
	flag.DurationVar(&o.tokenTTL, "token-ttl", 0, "lifetime of the embedded authorization server's access tokens (default 1h)")
	flag.DurationVar(&o.waitForKeys, "wait-for-keys", 0, "fail at start unless the issuer's keys can be fetched within this time")
	flag.StringVar(&o.exportKey, "export-key", "", "the key (at least 32 bytes) that signs Bulk Data status and file URLs, the same on every replica (default: random, for this process only)")
	flag.StringVar(&o.policyFile, "policy", "", "a JSON access policy intersected with user/ and system/ scopes (see policy.example.json and docs/policy.md)")
	o.auth.register(flag.CommandLine)
	o.dpop.register(flag.CommandLine)
	flag.Parse()
	o.auditLog = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		log.Fatalf("demo: %v", err)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, o options, out io.Writer) error {
	d, err := start(ctx, o, out)
	if err != nil {
		return err
	}
	select {
	case err := <-d.served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer d.closeStore()
	return d.srv.Shutdown(shutdown)
}

// demo is a running demo server.
type demo struct {
	root, audience, issuer string
	embedded               bool
	srv                    *http.Server
	ln                     net.Listener // bound before the routes only for port 0
	client                 *http.Client // reaches the demo's own routes in-process
	served                 chan error   // Serve's result
	closeStore             func()       // closes the client of the shared store (-redis)
}

// start serves the demo on o.addr once it is ready, and only then prints
// its steps; see prepare.
func start(ctx context.Context, o options, out io.Writer) (*demo, error) {
	d, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := d.serve(o.addr); err != nil {
		return nil, err
	}
	printWelcome(out, d.root, d.audience, d.issuer, d.embedded)
	return d, nil
}

// prepare builds the demo: the embedded authorization server (unless
// o.issuer is set), the discovery document, the CapabilityStatement and
// the protected FHIR API. Nothing is served yet (see ready.go).
func prepare(ctx context.Context, o options) (*demo, error) {
	embedded := o.issuer == ""
	if embedded {
		if err := requireLoopback(o.addr); err != nil {
			return nil, err
		}
	}
	ln, root, err := bindEarly(o.addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	d := &demo{root: root, issuer: o.issuer, audience: o.audience, embedded: embedded, ln: ln, served: make(chan error, 1),
		client: selfClient(root, mux), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, closeStore: func() {}}
	if d.audience == "" {
		d.audience = d.root + "/fhir"
	}
	err = d.setup(ctx, mux, o, embedded)
	if err == nil {
		// Every route, under the demo's own host names only.
		d.srv.Handler, err = ownHostOnly(mux, d.root, d.audience)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		d.closeStore()
		return nil, err
	}
	return d, nil
}

// requireLoopback refuses to run the development authorization server,
// which hands tokens to anyone who asks, anywhere but on loopback.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("the embedded development authorization server issues tokens to anyone: "+
		"it listens on loopback only (127.0.0.1, ::1, localhost), not on %q; use -issuer for a real one", addr)
}

// authorizationServer returns the SMART document of the authorization
// server: the embedded one, mounted on mux (with store, the record of
// used DPoP proofs, unless -dpop is off), or that of -issuer (auth nil).
func (d *demo) authorizationServer(ctx context.Context, mux *http.ServeMux, o options, store smartmw.Store) (*wellknown.Configuration, *embeddedAuth, error) {
	if !d.embedded {
		doc, err := wellknown.FromIssuer(ctx, d.issuer, nil)
		if err != nil {
			return nil, nil, err
		}
		describe(doc)
		return doc, nil, nil
	}
	var proofs devauth.Replays // nil: the token endpoint refuses DPoP proofs
	if o.dpop.guardMode() != smartmw.DPoPOff {
		proofs = store
	}
	var shared smartmw.Store // revocations kept for every replica (-redis)
	if o.dpop.redis != "" {
		shared = store
	}
	auth, err := newEmbeddedAuth(d.root, d.audience, o.tokenTTL, o.leeway, proofs, shared)
	if err != nil {
		return nil, nil, err
	}
	d.issuer = auth.dev.URL()
	auth.mount(mux)
	doc := embeddedDiscovery(d.issuer)
	if proofs != nil {
		advertiseDPoP(doc)
	}
	return doc, auth, nil
}

// sharedIntrospection is the issuer's Introspection, whose active answers
// are shared in store between replicas when -redis names one and the
// issuer's tokens are introspected.
func (o options) sharedIntrospection(store smartmw.Store) smartmw.Introspection {
	in := o.auth.introspection
	if o.dpop.redis != "" && o.auth.tokens != smartmw.TokensJWT {
		in.Store = store
	}
	return in
}

func (d *demo) setup(ctx context.Context, mux *http.ServeMux, o options, embedded bool) error {
	fhirPath, err := wellknown.Path(d.audience)
	if err != nil {
		return err
	}
	fhirPath = strings.TrimSuffix(fhirPath, "/.well-known/smart-configuration")
	store, closeStore, err := o.dpop.sharedStore(ctx)
	if err != nil {
		return err
	}
	d.closeStore = closeStore
	doc, auth, err := d.authorizationServer(ctx, mux, o, store)
	if err != nil {
		return err
	}
	var audit *auditLog // the guard's last decisions, for the demo app's panel
	if auth != nil {
		audit = newAuditLog(50)
	}
	policy, err := loadPolicy(o.policyFile)
	if err != nil {
		return err
	}
	dpopOpts, err := o.dpop.options(store)
	if err != nil {
		return err
	}
	exportKey := []byte(o.exportKey)
	if len(exportKey) == 0 {
		exportKey = []byte(rand.Text() + rand.Text()) // one process: no replica to share it with
	}
	guard, err := smartmw.New(ctx, smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:           d.issuer,
			Audience:      d.audience,
			Format:        o.auth.tokens,
			Introspection: o.sharedIntrospection(store),
			Claims:        o.auth.claims,
			DPoP:          o.dpop.guardMode(),
		}, DPoP: dpopOpts, AllowedOrigins: o.corsOrigins,
		Keys: smartmw.KeyOptions{
			UnknownKIDInterval: o.unknownKIDInterval,
			Wait:               o.waitForKeys,
		}, Tokens: smartmw.TokenOptions{Leeway: o.leeway, Revocations: auth.revocations()}, HTTPClient: d.client, Hooks: smartmw.Hooks{Audit: audit.hooks(o.auditLog)},
		// Bulk Data export at system, Patient and Group level, jobs
		// and files bound to the backend client that started them.
		FHIR:         smartmw.FHIROptions{Export: smartmw.ExportOptions{Enabled: true, Key: exportKey}},
		AccessPolicy: policy,
	})
	if err != nil {
		return err
	}
	discovery, err := wellknown.Handler(*doc)
	if err != nil {
		return err
	}
	if err := mountFHIR(mux, fhirPath, d.audience, *doc, discovery, guard, len(o.corsOrigins) > 0); err != nil {
		return err
	}
	if err := protectedResources(mux, guard, d.audience); err != nil {
		return err
	}
	if embedded { // the browser pages: home, EHR, consent, the demo app
		(&browser{auth: auth, root: d.root, audience: d.audience, audit: audit,
			dir: &fhirDirectory{api: mux, base: d.audience, dev: auth.dev}}).routes(mux)
	}
	return nil
}
