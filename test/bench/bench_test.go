// Package bench compares smartguard with golang-jwt's own Parse and with
// auth0/go-jwt-middleware v2.3.1, and measures the whole protection of
// FHIR reads and searches against the unprotected handler and json.Valid
// on the same answers. It is a module of its own, so that the core module
// keeps its three dependencies.
//
//	go test -run '^$' -bench . -benchmem -count 6      # raw figures
//	go run ./cmd/table -w                              # the table of docs/performance.md
package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkFirstSeen verifies a token seen for the first time (the
// smartguard cache off): smartguard's Verify (signature, then the SMART
// claims parsed into a grant), golang-jwt's own Parse with the same
// checks (the floor: the signature check dominates), and auth0's
// validator with the SMART claims decoded.
func BenchmarkFirstSeen(b *testing.B) {
	for _, alg := range algorithms {
		s := newSigner(b, alg)
		tok := s.token(b, patientScopes)
		b.Run(alg+"/smartguard", func(b *testing.B) {
			g := s.guard(b, false)
			ctx := context.Background()
			defer reportCPU(b)()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/golang-jwt", func(b *testing.B) {
			parse := jwtParse(alg, s.public())
			defer reportCPU(b)()
			b.ReportAllocs()
			for b.Loop() {
				if err := parse(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/auth0", func(b *testing.B) {
			v := auth0Validator(b, alg, s.public())
			ctx := context.Background()
			defer reportCPU(b)()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.ValidateToken(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCached verifies an RS256 token seen before. smartguard answers
// from its verified-token cache (exp checked again); golang-jwt and
// auth0's validator have no such cache and verify it again.
func BenchmarkCached(b *testing.B) {
	s := newSigner(b, "RS256")
	tok := s.token(b, patientScopes)
	b.Run("smartguard", func(b *testing.B) {
		g := s.guard(b, true)
		ctx := context.Background()
		if _, err := g.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		defer reportCPU(b)()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("golang-jwt", func(b *testing.B) {
		parse := jwtParse("RS256", s.public())
		defer reportCPU(b)()
		b.ReportAllocs()
		for b.Loop() {
			if err := parse(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("auth0", func(b *testing.B) {
		v := auth0Validator(b, "RS256", s.public())
		ctx := context.Background()
		defer reportCPU(b)()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.ValidateToken(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// scenario is one FHIR request and the answer of the handler behind the
// protection.
type scenario struct {
	name   string
	target string // under the base
	answer []byte
	user   bool   // a clinician's user/ token, else a patient app's
	scopes string // a patient app's scopes, patientScopes when empty
}

// scenarios are a read by id (the response guard checks the Patient
// against the token's patient), a search under user/ scopes (nothing for
// the guard to check), searches under patient/ scopes whose 20- and
// 100-entry Bundles the response guard checks entry by entry, and the
// same under a granular scope, each entry matched against its category
// too.
var scenarios = []scenario{
	{name: "read", target: "/Patient/123", answer: patientResource},
	{name: "user-search", target: "/Observation?code=http://loinc.org|2339-0", answer: searchset(20), user: true},
	{name: "patient-search", target: "/Observation?patient=123", answer: searchset(20)},
	{name: "patient-search-100", target: "/Observation?patient=123", answer: searchset(100)},
	{name: "granular-search", target: "/Observation?patient=123&category=" + labCategory, answer: searchset(20), scopes: granularScopes},
	{name: "granular-search-100", target: "/Observation?patient=123&category=" + labCategory, answer: searchset(100), scopes: granularScopes},
}

// labCategory is the category of laboratory results, as a token search
// value.
const labCategory = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"

// granularScopes are those of a patient app that may read laboratory
// results only.
const granularScopes = "launch/patient openid fhirUser offline_access patient/Patient.r patient/Observation.rs?category=" + labCategory

// protections returns the handler of each scenario unprotected, behind
// smartguard (the whole protection, cached tokens) and behind auth0's
// middleware (authentication only: auth0 has no cache and no SMART), with
// the token to send.
func protections(tb testing.TB, s *signer, sc scenario) []struct {
	name  string
	h     http.Handler
	token string
} {
	scopes := patientScopes
	if sc.scopes != "" {
		scopes = sc.scopes
	}
	tok := s.token(tb, scopes)
	if sc.user {
		tok = s.userToken(tb)
	}
	next := fixed(sc.answer)
	return []struct {
		name  string
		h     http.Handler
		token string
	}{
		{"unprotected", next, tok},
		{"smartguard", s.guard(tb, true).Handler(next), tok},
		{"auth0", auth0Handler(tb, "RS256", s.public(), next), tok},
	}
}

// BenchmarkProtect measures each scenario's whole request path with an
// RS256 token seen before.
func BenchmarkProtect(b *testing.B) {
	s := newSigner(b, "RS256")
	for _, sc := range scenarios {
		for _, p := range protections(b, s, sc) {
			b.Run(sc.name+"/"+p.name, func(b *testing.B) {
				r := request(sc.target, p.token)
				w := &discard{h: http.Header{}}
				p.h.ServeHTTP(w, r) // fill the cache
				b.SetBytes(int64(len(sc.answer)))
				defer reportCPU(b)()
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					p.h.ServeHTTP(w, r)
				}
			})
		}
	}
}

// BenchmarkJSONValid is json.Valid on each scenario's answer: the least a
// guard that reads the answer as JSON can cost.
func BenchmarkJSONValid(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			b.SetBytes(int64(len(sc.answer)))
			defer reportCPU(b)()
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(sc.answer) {
					b.Fatal("invalid JSON")
				}
			}
		})
	}
}

// TestFixtures checks that what the benchmarks measure works: every
// token verifies with every verifier, and every protected scenario
// answers 200 with the handler's bytes, untouched by the response guard.
func TestFixtures(t *testing.T) {
	for _, alg := range algorithms {
		s := newSigner(t, alg)
		tok := s.token(t, patientScopes)
		if _, err := s.guard(t, false).Verify(t.Context(), tok); err != nil {
			t.Errorf("%s: smartguard: %v", alg, err)
		}
		if err := jwtParse(alg, s.public())(tok); err != nil {
			t.Errorf("%s: golang-jwt: %v", alg, err)
		}
		if _, err := auth0Validator(t, alg, s.public()).ValidateToken(t.Context(), tok); err != nil {
			t.Errorf("%s: auth0: %v", alg, err)
		}
	}
	s := newSigner(t, "RS256")
	for _, sc := range scenarios {
		for _, p := range protections(t, s, sc) {
			w := httptest.NewRecorder()
			p.h.ServeHTTP(w, request(sc.target, p.token))
			if w.Code != http.StatusOK || w.Body.String() != string(sc.answer) {
				t.Errorf("%s/%s: %d %.200s", sc.name, p.name, w.Code, w.Body)
			}
		}
		w := httptest.NewRecorder()
		forged := s.token(t, patientScopes)
		forged = forged[:len(forged)-4] + "AAAA"
		protections(t, s, sc)[1].h.ServeHTTP(w, request(sc.target, forged))
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: a forged token got %d", sc.name, w.Code)
		}
	}
}
