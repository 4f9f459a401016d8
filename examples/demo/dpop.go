package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smartguard/smartguard/examples/internal/devauth"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartredis "github.com/smartguard/smartguard/store/redis"
	"github.com/smartguard/smartguard/wellknown"
)

// dpopFlags are the demo's flags for DPoP (RFC 9449) and for the state
// its replicas share.
type dpopFlags struct {
	mode     smartmw.DPoPMode // with set; DPoPAllowed when not set
	set      bool
	nonceKey string // the DPoP-Nonce key, the same on every replica; "" for no nonces
	redis    string // a redis:// or rediss:// URL; "" for the memory store
}

// register adds the flags to fs.
func (f *dpopFlags) register(fs *flag.FlagSet) {
	fs.Func("dpop", "DPoP-bound tokens (RFC 9449) of the issuer: off, allowed (default: bearer and DPoP-bound tokens) or required", func(v string) error {
		m, ok := map[string]smartmw.DPoPMode{"off": smartmw.DPoPOff, "allowed": smartmw.DPoPAllowed, "required": smartmw.DPoPRequired}[v]
		if !ok {
			return fmt.Errorf("%q is not off, allowed or required", v)
		}
		f.mode, f.set = m, true
		return nil
	})
	fs.StringVar(&f.nonceKey, "dpop-nonce-key", "", "require server nonces (DPoP-Nonce) in DPoP proofs, made with this key (at least 32 bytes, the same on every replica)")
	fs.StringVar(&f.redis, "redis", "", "a Redis URL (redis://HOST:PORT/DB, rediss:// for TLS) that keeps what replicas share: used DPoP proofs, revocations, introspection answers (default: this process's memory)")
}

// guardMode is the Issuer.DPoP of the demo's issuer: -dpop, allowed by
// default.
func (f *dpopFlags) guardMode() smartmw.DPoPMode {
	if !f.set {
		return smartmw.DPoPAllowed
	}
	return f.mode
}

// dpopAlgorithms are the proof algorithms the demo accepts, at its token
// endpoint and on its FHIR API.
var dpopAlgorithms = []string{"ES256"}

// sharedStore returns the Store replicas share (the record of used DPoP
// proofs; with -redis also the embedded server's revocations and the
// introspection answers): on the Redis server of -redis, which it pings
// first, or in memory; and a function that closes its client.
func (f *dpopFlags) sharedStore(ctx context.Context) (smartmw.Store, func(), error) {
	if f.redis == "" {
		return smartmw.NewMemoryStore(0), func() {}, nil
	}
	opt, err := redis.ParseURL(f.redis)
	if err != nil {
		return nil, nil, fmt.Errorf("-redis: %w", err)
	}
	opt.ContextTimeoutEnabled = true // smartredis.New refuses a client that ignores deadlines
	client := redis.NewClient(opt)
	ping, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(ping).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("-redis: %s does not answer: %w", opt.Addr, err)
	}
	store, err := smartredis.New(client, smartredis.Options{Prefix: "smartguard-demo:"})
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return store, func() { client.Close() }, nil
}

// options returns the Guard's DPoPOptions: none with DPoP off, else the
// proof algorithms, store and nonce key.
func (f *dpopFlags) options(store smartmw.Store) (smartmw.DPoPOptions, error) {
	if f.guardMode() == smartmw.DPoPOff {
		if f.nonceKey != "" {
			return smartmw.DPoPOptions{}, errors.New("-dpop-nonce-key needs -dpop allowed or required")
		}
		return smartmw.DPoPOptions{}, nil
	}
	o := smartmw.DPoPOptions{Algorithms: dpopAlgorithms, Store: store}
	if f.nonceKey != "" {
		o.NonceKey = []byte(f.nonceKey)
	}
	return o, nil
}

// advertiseDPoP adds to the SMART document of the embedded authorization
// server the proof algorithms its token endpoint accepts (RFC 9449 §5.1).
func advertiseDPoP(doc *wellknown.Configuration) {
	algs, _ := json.Marshal(dpopAlgorithms)
	if doc.Extra == nil {
		doc.Extra = map[string]json.RawMessage{}
	}
	doc.Extra["dpop_signing_alg_values_supported"] = algs
}

// withDPoPMetadata serves the embedded server's OpenID metadata (meta)
// with dpop_signing_alg_values_supported added.
func withDPoPMetadata(meta func() []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.Unmarshal(meta(), &m); err != nil {
			http.Error(w, "metadata", http.StatusInternalServerError)
			return
		}
		m["dpop_signing_alg_values_supported"] = dpopAlgorithms
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m)
	})
}

// protectedResources serves the RFC 9728 metadata of the FHIR base: the
// issuer, the bearer methods and, with DPoP on, the proof algorithms
// (dpop_signing_alg_values_supported) and whether DPoP is required. An
// audience that cannot name such metadata (http on a host that is not
// loopback) has none.
func protectedResources(mux *http.ServeMux, guard *smartmw.Guard, audience string) error {
	if u, err := url.Parse(audience); err != nil || u.Scheme != "https" && !devauth.IsLoopbackHost(u.Hostname()) {
		return nil
	}
	docs := guard.ProtectedResources()
	for i := range docs {
		docs[i].ScopesSupported = demoScopes
	}
	h, err := wellknown.ProtectedResourceHandler(docs...)
	if err != nil {
		return err
	}
	mux.Handle("GET /.well-known/oauth-protected-resource/", h)
	return nil
}
