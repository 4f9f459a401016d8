package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	smartmw "github.com/smartguard/smartguard/middleware"
)

func setup(ctx context.Context, cfg smartmw.Config, reg *prometheus.Registry) (http.Handler, error) {
	cfg.Hooks.Metrics = NewMetrics(reg)
	p, err := fhirstore.Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(p.DiscoveryPath, p.Discovery)
	protected := p.Guard.Handler(p.Store)
	mux.Handle("/fhir", protected)                                               // the base itself: batch, transaction, system search
	mux.Handle("/fhir/", protected)                                              // everything under it
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) // not behind the Guard: protect it your own way
	return mux, nil
}

func main() {
	issuer := flag.String("issuer", "", "the trusted authorization server")
	audience := flag.String("audience", "http://127.0.0.1:8085/fhir", "this server's FHIR base URL")
	addr := flag.String("addr", "127.0.0.1:8085", "address to listen on")
	flag.Parse()
	h, err := setup(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:      *issuer,
		Audience: *audience,
	}}, prometheus.NewRegistry())
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}
