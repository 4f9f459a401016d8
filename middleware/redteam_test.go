package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// mustReject fails t when m accepts tok.
func mustReject(t *testing.T, m *smartmw.Guard, tok string) {
	t.Helper()
	if g, err := m.Verify(context.Background(), tok); err == nil || g != nil {
		t.Fatalf("token accepted: %v", g)
	}
}

// flipTrailingBits changes the unused low bits of the last character of
// a base64url segment: a lax decoder reads the same bytes (RFC 4648
// §3.5), so the token would be another string with the same signature.
func flipTrailingBits(seg string) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alpha, seg[len(seg)-1])
	var unused int
	switch len(seg) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		return ""
	}
	return seg[:len(seg)-1] + string(alpha[last^(1<<unused-1)])
}

func TestRejectsNonCanonicalBase64(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	// A segment of 4n characters has no unused bits: pad the claims
	// until every segment has some, so that each case runs.
	var parts []string
	c := goodClaims(is)
	for pad := ""; len(pad) < 4; pad += "x" {
		c["pad"] = pad
		parts = strings.Split(sign(t, is, c), ".")
		if len(parts[1])%4 != 0 {
			break
		}
	}
	for i := range parts {
		p := append([]string{}, parts...)
		if p[i] = flipTrailingBits(p[i]); p[i] == "" {
			t.Fatalf("segment %d of %d characters has no unused bits to flip", i, len(parts[i]))
		}
		t.Run([]string{"header", "payload", "signature"}[i], func(t *testing.T) {
			mustReject(t, m, strings.Join(p, "."))
		})
	}
}

func TestRejectsReencodedSegments(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) { c.Cache.Disable = true })
	// A token with a "-" or "_" in it, for the standard alphabet to
	// change: nearly every token has one; a few jti values find it.
	var tok string
	for i := 0; !strings.ContainsAny(tok, "-_"); i++ {
		if i == 100 {
			t.Fatal("no token with a base64url-only character")
		}
		c := goodClaims(is)
		c["jti"] = "j" + strconv.Itoa(i)
		tok = sign(t, is, c)
	}
	parts := strings.Split(tok, ".")
	for name, bad := range map[string]string{
		"padding":           parts[0] + "==." + parts[1] + "." + parts[2],
		"standard alphabet": strings.NewReplacer("-", "+", "_", "/").Replace(tok),
		"extra dot":         tok + ".",
		"trailing garbage":  tok + "AAAA",
		"leading space":     " " + tok,
		"four parts":        parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2],
		"empty signature":   parts[0] + "." + parts[1] + ".",
	} {
		t.Run(name, func(t *testing.T) {
			if bad == tok {
				t.Fatal("the attack did not change the token")
			}
			mustReject(t, m, bad)
		})
	}
}

func TestRejectsOddRegisteredClaims(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) { c.Cache.Disable = true })
	for name, set := range map[string]func(jwt.MapClaims){
		"exp string":        func(c jwt.MapClaims) { c["exp"] = "9999999999" },
		"exp huge":          func(c jwt.MapClaims) { c["exp"] = 1e300 },
		"exp negative":      func(c jwt.MapClaims) { c["exp"] = -1 },
		"exp null":          func(c jwt.MapClaims) { c["exp"] = nil },
		"exp bool":          func(c jwt.MapClaims) { c["exp"] = true },
		"nbf string":        func(c jwt.MapClaims) { c["nbf"] = "0" },
		"iat future":        func(c jwt.MapClaims) { c["iat"] = testNow.Unix() + 3600 },
		"iat string":        func(c jwt.MapClaims) { c["iat"] = "1" },
		"iss array":         func(c jwt.MapClaims) { c["iss"] = []string{is.URL()} },
		"iss trailing /":    func(c jwt.MapClaims) { c["iss"] = is.URL() + "/" },
		"iss upper case":    func(c jwt.MapClaims) { c["iss"] = strings.ToUpper(is.URL()) },
		"iss missing":       func(c jwt.MapClaims) { delete(c, "iss") },
		"ISS for iss":       func(c jwt.MapClaims) { c["ISS"] = c["iss"]; delete(c, "iss") },
		"aud prefix":        func(c jwt.MapClaims) { c["aud"] = testAudience + "evil" },
		"aud nested":        func(c jwt.MapClaims) { c["aud"] = []any{[]any{testAudience}} },
		"aud empty":         func(c jwt.MapClaims) { c["aud"] = "" },
		"aud empty array":   func(c jwt.MapClaims) { c["aud"] = []any{} },
		"aud missing":       func(c jwt.MapClaims) { delete(c, "aud") },
		"aud number":        func(c jwt.MapClaims) { c["aud"] = 1 },
		"aud object":        func(c jwt.MapClaims) { c["aud"] = map[string]any{"0": testAudience} },
		"patient number":    func(c jwt.MapClaims) { c["patient"] = 123 },
		"patient array":     func(c jwt.MapClaims) { c["patient"] = []any{"123"} },
		"patient path":      func(c jwt.MapClaims) { c["patient"] = "../Patient/2" },
		"patient object":    func(c jwt.MapClaims) { c["patient"] = map[string]any{"id": "1"} },
		"scope number":      func(c jwt.MapClaims) { c["scope"] = 1 },
		"scope mixed array": func(c jwt.MapClaims) { c["scope"] = []any{"patient/*.rs", 1} },
		"fhirUser other":    func(c jwt.MapClaims) { c["fhirUser"] = "https://evil.example/Device/1" },
	} {
		t.Run(name, func(t *testing.T) {
			c := goodClaims(is)
			set(c)
			mustReject(t, m, sign(t, is, c))
		})
	}
}

func TestRejectsDeeplyNestedClaims(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) { c.Cache.Disable = true; c.Bounds.MaxTokenSize = 1 << 20 })
	// Signed by hand: encoding/json, which jwt.NewWithClaims uses, may
	// refuse to write the depth.
	claims, err := json.Marshal(goodClaims(is))
	if err != nil {
		t.Fatal(err)
	}
	const depth = 20000
	payload := string(claims[:len(claims)-1]) + `,"deep":` + strings.Repeat("[", depth) + `"x"` + strings.Repeat("]", depth) + "}"
	sign := func(payload string) string {
		return is.SignRaw(t, `{"alg":"RS256","typ":"at+jwt","kid":"`+is.KeyID()+`"}`, payload)
	}
	// The same token, signed the same way, without the nesting passes.
	if _, err := m.Verify(context.Background(), sign(string(claims))); err != nil {
		t.Fatalf("the control token is refused: %v", err)
	}
	mustReject(t, m, sign(payload))
}

func TestRejectsNonPreflightOPTIONSWithoutToken(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	reached := false
	h := smartmw.CORS("https://app.example")(m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })))
	for name, hdr := range map[string]map[string]string{
		"no origin":      {},
		"origin only":    {"Origin": "https://app.example"},
		"other origin":   {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
		"bad req method": {"Origin": "https://app.example", "Access-Control-Request-Method": "TRACE"},
	} {
		t.Run(name, func(t *testing.T) {
			reached = false
			r := httptest.NewRequest(http.MethodOptions, "/r4/Patient/1", nil)
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if reached {
				t.Fatalf("OPTIONS reached the FHIR handler without a token (status %d)", w.Code)
			}
		})
	}
}

func TestRejectsAuthorizationTricks(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	tok := sign(t, is, goodClaims(is))
	reached := false
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	for name, vals := range map[string][]string{
		"tab":          {"Bearer\t" + tok},
		"extra":        {"Bearer " + tok + " extra"},
		"two headers":  {"Bearer " + tok, "Bearer " + tok},
		"basic":        {"Basic " + tok},
		"dpop":         {"DPoP " + tok},
		"comma joined": {"Bearer " + tok + ", Bearer " + tok},
		"newline":      {"Bearer " + tok + "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			reached = false
			r := httptest.NewRequest(http.MethodGet, "/r4/Patient/1", nil)
			r.Header["Authorization"] = vals
			h.ServeHTTP(httptest.NewRecorder(), r)
			if reached {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRejectsErrorsEchoingTokenContents(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	const secret = "SeCrEtMaRkEr"
	c := goodClaims(is)
	c["iss"] = "https://" + secret + ".example"
	c["patient"] = secret + "/x"
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tok := range []string{
		sign(t, is, c),
		sign(t, is, goodClaims(is), smarttest.Header("kid", secret+"\"x"), smarttest.Header("typ", secret)),
		sign(t, is, goodClaims(is), smarttest.Header("crit", []string{secret})),
	} {
		r := httptest.NewRequest(http.MethodGet, "/r4/Patient/1", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("status %d", w.Code)
		}
		if strings.Contains(w.Header().Get("WWW-Authenticate"), secret) || strings.Contains(w.Body.String(), secret) {
			t.Errorf("response echoes token contents: %q %s", w.Header().Get("WWW-Authenticate"), w.Body)
		}
	}
}

// TestRejectsEmptyAudienceEntry: an empty string among Audiences (as
// strings.Split of an unset variable gives) would let a token whose aud
// array holds "" next to anything pass the audience check, since the
// jwt package compares each aud element with each expected audience.
func TestRejectsEmptyAudienceEntry(t *testing.T) {
	is := newIssuer(t)
	for _, auds := range [][]string{{""}, {"https://fhir.example.org/other", ""}} {
		m, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
			URL:       is.URL(),
			Audience:  testAudience,
			Audiences: auds,
			JWKSURL:   jwksOf(is),
		}, HTTPClient: is.Client(), Tokens: smartmw.TokenOptions{Now: fixedNow}})
		if err != nil {
			continue // refused at New: fine
		}
		c := goodClaims(is)
		c["aud"] = []any{"", "https://evil.example.org/fhir"}
		mustReject(t, m, sign(t, is, c))
	}
	for _, auds := range [][]string{{""}} {
		_, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
			URL:      "https://a.example.org",
			Audience: testAudience,
			Keyfunc:  noKeys,
		}, Issuers: []smartmw.Issuer{{URL: is.URL(), Audience: testAudience, Audiences: auds, Keyfunc: noKeys}}, Tokens: smartmw.TokenOptions{Now: fixedNow}})
		if err == nil {
			t.Error("New accepted an empty entry in Issuer.Audiences")
		}
	}
}

// TestRejectsOctKeyFromJWKS: a symmetric key published in the JWKS must
// verify nothing, and an RS256 key's bytes must never serve as an HMAC
// secret. New refuses HS256 with keys from a JWKS at all.
func TestRejectsOctKeyFromJWKS(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	oct := map[string]any{"kty": "oct", "kid": "h1", "k": b64(secret)}
	octNoKID := map[string]any{"kty": "oct", "k": b64(secret)}
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil), oct, octNoKID)
	if _, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:      as.issuer(),
		Audience: testAudience,
	}, Tokens: smartmw.TokenOptions{Algorithms: []string{"RS256", "HS256"}}}); err == nil {
		t.Fatal("New accepted HS256 with keys from a JWKS")
	}
	m := newFromAS(t, as, func(c *smartmw.Config) { c.Cache.Disable = true })
	for _, hdr := range []map[string]any{{"kid": "h1"}, {"kid": nil}, {"kid": "k1"}} {
		mustReject(t, m, asToken(t, as, jwt.SigningMethodHS256, secret, hdr))
	}
	// HS256 keyed with the JWK's modulus bytes (alg confusion).
	mustReject(t, m, asToken(t, as, jwt.SigningMethodHS256, rsaKey().PublicKey.N.Bytes(), map[string]any{"kid": "k1"}))
}

// TestRejectsKeyWithoutVerifyOp: key_ops without "verify" and use=enc
// disqualify a key found by kid and when the token has no kid.
func TestRejectsKeyWithoutVerifyOp(t *testing.T) {
	as := newFakeAS(t,
		jwk(rsaKey(), "k1", map[string]any{"key_ops": []string{"encrypt"}}),
		jwk(rsaKey(), "k2", map[string]any{"use": "enc"}),
		jwk(rsaKey(), "k3", map[string]any{"alg": "PS256"}),
	)
	m := newFromAS(t, as, func(c *smartmw.Config) { c.Cache.Disable = true })
	for _, hdr := range []map[string]any{{"kid": "k1"}, {"kid": "k2"}, {"kid": "k3"}, {"kid": nil}} {
		mustReject(t, m, asToken(t, as, jwt.SigningMethodRS256, rsaKey(), hdr))
	}
}

// TestRejectsScopeFromIgnoredClaim: with "scope" and "scp" both present,
// the documented order ("scope" first) decides, whatever the JSON order.
func TestRejectsScopeFromIgnoredClaim(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	c := goodClaims(is)
	c["scope"] = "openid"
	c["scp"] = []any{"patient/*.cruds", "user/*.cruds"}
	g, err := m.Verify(context.Background(), sign(t, is, c))
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Scopes().String(); strings.Contains(s, "cruds") {
		t.Fatalf("scp widened the grant: %s", s)
	}
}

// TestRejectsQueryTokenBesideHeader and the form body on GET.
func TestRejectsQueryAndFormTokens(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) { c.Tokens.FormBody = true })
	tok := sign(t, is, goodClaims(is))
	reached := false
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	for name, r := range map[string]*http.Request{
		"query":          httptest.NewRequest(http.MethodGet, "/fhir/Patient?access_token="+tok, nil),
		"query escaped":  httptest.NewRequest(http.MethodGet, "/fhir/Patient?access%5Ftoken="+tok, nil),
		"form on GET":    httptest.NewRequest(http.MethodGet, "/fhir/Patient", strings.NewReader("access_token="+tok)),
		"form twice":     httptest.NewRequest(http.MethodPost, "/fhir/Patient", strings.NewReader("access_token="+tok+"&access_token="+tok)),
		"form bad chars": httptest.NewRequest(http.MethodPost, "/fhir/Patient", strings.NewReader("access_token="+tok+"%20x")),
	} {
		t.Run(name, func(t *testing.T) {
			reached = false
			if r.Body != http.NoBody {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if reached {
				t.Fatal("accepted")
			}
		})
	}
}

// TestRejectsOddJSONShapes: validly signed segments that are not JSON
// objects, or objects with odd members, must neither panic nor pass.
func TestRejectsOddJSONShapes(t *testing.T) {
	is := newIssuer(t)
	single := newGuard(t, is, func(c *smartmw.Config) { c.Cache.Disable = true })
	multi := newGuard(t, is, func(c *smartmw.Config) {
		c.Cache.Disable = true
		c.Issuers = []smartmw.Issuer{{URL: "https://other.example.org", Audience: testAudience,
			Keyfunc: func(*jwt.Token) (any, error) { return &otherRSAKey().PublicKey, nil }}}
	})
	exp := testNow.Add(time.Hour).Unix()
	good := `"iss":"` + is.URL() + `","aud":"` + testAudience + `","exp":` + strconv.FormatInt(exp, 10)
	hdr := `{"alg":"RS256","typ":"at+jwt"}`
	cases := map[string][2]string{
		"payload null":         {hdr, `null`},
		"payload array":        {hdr, `[{` + good + `}]`},
		"payload string":       {hdr, `"x"`},
		"payload number":       {hdr, `1`},
		"payload trailing obj": {hdr, `{` + good + `}{"iss":"https://other.example.org"}`},
		"payload trailing":     {hdr, `{` + good + `} x`},
		"header null":          {`null`, `{` + good + `}`},
		"header array":         {`["RS256"]`, `{` + good + `}`},
		"alg array":            {`{"alg":["RS256"],"typ":"at+jwt"}`, `{` + good + `}`},
		"alg missing":          {`{"typ":"at+jwt"}`, `{` + good + `}`},
		"alg lower":            {`{"alg":"rs256","typ":"at+jwt"}`, `{` + good + `}`},
		"typ number":           {`{"alg":"RS256","typ":1}`, `{` + good + `}`},
		"kid number":           {`{"alg":"RS256","typ":"at+jwt","kid":1}`, `{` + good + `}`},
		"crit empty":           {`{"alg":"RS256","typ":"at+jwt","crit":[]}`, `{` + good + `}`},
		"b64 false":            {`{"alg":"RS256","typ":"at+jwt","b64":false,"crit":["b64"]}`, `{` + good + `}`},
		"exp twice, last old":  {hdr, `{` + good + `,"exp":1}`},
		"iss twice, last bad":  {hdr, `{` + good + `,"iss":"https://other.example.org"}`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			tok := is.SignRaw(t, c[0], c[1])
			mustReject(t, single, tok)
			mustReject(t, multi, tok)
		})
	}
	// The control: the same construction is accepted when well formed.
	if _, err := single.Verify(context.Background(), is.SignRaw(t, hdr, `{`+good+`}`)); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
}

// TestRejectsPercentEncodedQueryToken: access_token spelled with
// percent-encoded letters in the query must be refused like the plain
// name (RFC 6750 §2.3 tokens in URIs leak to logs).
func TestRejectsPercentEncodedQueryToken(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, nil)
	tok := sign(t, is, goodClaims(is))
	for _, q := range []string{"%61ccess_token=", "acc%65ss_token=", "%61%63%63%65%73%73%5f%74%6f%6b%65%6e="} {
		r := httptest.NewRequest(http.MethodGet, "/fhir/Patient?"+q+tok, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, _, _, err := m.Extract(r)
		if err == nil || err.Code != smartmw.CodeInvalidRequest {
			t.Errorf("%s: token in the query not refused: %v", q, err)
		}
	}
}
