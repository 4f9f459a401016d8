package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
	smartredis "github.com/smartguard/smartguard/store/redis"
)

// startRedis starts a redis-server on a free loopback port, without
// persistence, for t, and returns its URL. Without the binary it skips t,
// or fails it when SMARTGUARD_REQUIRE_REDIS=1 (test.sh and CI set it).
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("SMARTGUARD_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not found, and SMARTGUARD_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server not found: install it (apt-get install redis-server) to run the demo's -redis tests")
	}
	dir := t.TempDir()
	for range 5 { // a free port may be taken before the server binds it
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--daemonize", "no", "--logfile", filepath.Join(dir, "redis-"+port+".log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if waitListening(port, done) {
			t.Cleanup(func() {
				cmd.Process.Kill() // the server this test started, by its process
				<-done
			})
			return "redis://127.0.0.1:" + port + "/0"
		}
		cmd.Process.Kill()
		<-done
	}
	t.Fatal("redis-server did not start")
	return ""
}

// waitListening reports whether a server on port listens within 10 s,
// false as soon as it exits (done receives; it is sent on again).
func waitListening(port string, done chan error) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// replica starts a demo trusting issuer is, with o's DPoP flags, as one
// replica of the FHIR base is.Audience().
func replica(t *testing.T, is *smarttest.Issuer, f dpopFlags) *demo {
	return replicaWith(t, is, f, authFlags{})
}

// replicaWith is replica with the issuer's tokens checked as a says.
func replicaWith(t *testing.T, is *smarttest.Issuer, f dpopFlags, a authFlags) *demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	d, err := start(ctx, options{addr: "127.0.0.1:0", issuer: is.URL(), audience: is.Audience(), dpop: f, auth: a}, &out)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		d.srv.Close()
		d.closeStore()
	})
	return d
}

// TestRedisSharesUsedProofsBetweenReplicas: two replicas given one Redis
// with -redis refuse a proof replayed from one to the other; with their
// own memory each accepts it once, which is why replicas need -redis.
func TestRedisSharesUsedProofsBetweenReplicas(t *testing.T) {
	url := startRedis(t)
	is := smarttest.NewIssuer(t, smarttest.ForAudience("http://fhir.example.test/r4"))
	key := smarttest.NewDPoPKey(t, "ES256")
	tok := is.Token(t, smarttest.Scopes("system/Patient.rs"), smarttest.BoundTo(key))
	htu := is.Audience() + "/Patient/example"
	for _, tc := range []struct {
		name       string
		redis      string
		replayCode int
	}{
		{"one Redis", url, 401},
		{"memory each", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := replica(t, is, dpopFlags{redis: tc.redis}), replica(t, is, dpopFlags{redis: tc.redis})
			proof := key.Proof(t, "GET", htu, tok)
			if r := dpopRequest(t, "GET", a.root+"/r4/Patient/example", tok, proof); r.StatusCode != 200 {
				t.Fatalf("first use, replica A: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
			}
			if r := dpopRequest(t, "GET", b.root+"/r4/Patient/example", tok, proof); r.StatusCode != tc.replayCode {
				t.Errorf("replayed to replica B: %d %q, want %d", r.StatusCode, r.Header.Get("WWW-Authenticate"), tc.replayCode)
			}
			if r := dpopRequest(t, "GET", b.root+"/r4/Patient/example", tok, key.Proof(t, "GET", htu, tok)); r.StatusCode != 200 {
				t.Errorf("a fresh proof, replica B: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestRedisSharesIntrospectionAnswersBetweenReplicas: two replicas
// introspecting opaque tokens (-tokens introspect) and given one Redis
// with -redis ask the introspection endpoint once for a token both see;
// with their own memory each asks.
func TestRedisSharesIntrospectionAnswersBetweenReplicas(t *testing.T) {
	url := startRedis(t)
	is := smarttest.NewIssuer(t, smarttest.ForAudience("http://fhir.example.test/r4"))
	var calls atomic.Int32
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.ParseForm() != nil || r.PostForm.Get("token") != "opaque-token-1" {
			w.Write([]byte(`{"active":false}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"active": true, "scope": "system/Patient.rs", "client_id": "backend",
			"exp": time.Now().Add(time.Hour).Unix(), "iss": is.URL(), "aud": is.Audience()})
	}))
	t.Cleanup(endpoint.Close)
	auth := authFlags{tokens: smartmw.TokensIntrospect,
		introspection: smartmw.Introspection{Endpoint: endpoint.URL, ClientID: "fhir", ClientSecret: "s3cret"}}
	for _, tc := range []struct {
		name  string
		redis string
		calls int32
	}{
		{"one Redis", url, 1},
		{"memory each", "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			a, b := replicaWith(t, is, dpopFlags{redis: tc.redis}, auth), replicaWith(t, is, dpopFlags{redis: tc.redis}, auth)
			for _, d := range []*demo{a, b} {
				if code, body := get(t, d.root+"/r4/Patient/example", "opaque-token-1"); code != 200 {
					t.Fatalf("read through a replica: %d %.300s", code, body)
				}
			}
			if n := calls.Load(); n != tc.calls {
				t.Errorf("%d introspection calls for two replicas, want %d", n, tc.calls)
			}
			if code, _ := get(t, b.root+"/r4/Patient/example", "opaque-token-2"); code != 401 {
				t.Errorf("an inactive token: %d, want 401", code)
			}
		})
	}
}

// TestRedisKeepsRevocations: with -redis, a token revoked at the embedded
// server's RFC 7009 endpoint is refused, and the revocation is in Redis,
// where any replica's StoreRevocations on that Redis finds it.
func TestRedisKeepsRevocations(t *testing.T) {
	addr := startRedis(t)
	d := startDemoWith(t, options{dpop: dpopFlags{redis: addr}})
	t.Cleanup(d.closeStore)
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs"}})
	if code, body := get(t, d.audience+"/Patient/example", tok); code != 200 {
		t.Fatalf("before the revocation: %d %.300s", code, body)
	}
	if p := revokeAt(t, d, url.Values{"client_id": {demoClientID}, "token": {tok}}); p.status != 200 {
		t.Fatalf("revocation: %d %s", p.status, p.body)
	}
	wantRevoked(t, d, tok)

	opt, err := redis.ParseURL(addr)
	if err != nil {
		t.Fatal(err)
	}
	opt.ContextTimeoutEnabled = true
	client := redis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	store, err := smartredis.New(client, smartredis.Options{Prefix: "smartguard-demo:"})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.JTI == "" {
		t.Fatalf("the token's jti: %v %s", err, payload)
	}
	another := smartmw.NewStoreRevocations(store, smartmw.StoreRevocationsOptions{})
	for jti, want := range map[string]bool{claims.JTI: true, claims.JTI + "-other": false} {
		got, err := another.Revoked(context.Background(), smartmw.TokenRef{Issuer: d.issuer, JTI: jti})
		if err != nil || got != want {
			t.Errorf("jti %q in Redis: revoked %v, %v; want %v", jti, got, err, want)
		}
	}
}
