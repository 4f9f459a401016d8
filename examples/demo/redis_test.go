package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/smartguard/smartguard/smarttest"
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
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	d, err := start(ctx, options{addr: "127.0.0.1:0", issuer: is.URL(), audience: is.Audience(), dpop: f}, &out)
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
