package smartredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// server is a redis-server of one test, on loopback, without persistence.
type server struct {
	addr string
	dir  string
}

// requireRedis is the variable that makes a missing redis-server a
// failure instead of a skip: test.sh and CI set it.
const requireRedis = "SMARTGUARD_REQUIRE_REDIS"

// redisRequired reports whether a missing redis-server fails the tests:
// with SMARTGUARD_REQUIRE_REDIS=1, and on any CI service (CI set, as
// GitHub Actions, GitLab CI and most others do), so that the revocation
// store's tests never skip silently where they are meant to run.
func redisRequired() bool {
	return os.Getenv(requireRedis) == "1" || (os.Getenv("CI") != "" && os.Getenv("CI") != "false")
}

// startServer starts a redis-server on a free loopback port for tb and
// stops it when tb ends. Without the binary it skips tb, or fails it when
// SMARTGUARD_REQUIRE_REDIS=1 or on CI.
func startServer(tb testing.TB) *server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if redisRequired() {
			tb.Fatalf("redis-server not found, and %s=1 or CI is set: install it (apt-get install redis-server; ./test.sh does)", requireRedis)
		}
		tb.Skipf("redis-server not found: install it (apt-get install redis-server; ./test.sh does) to run the Redis store's tests")
	}
	dir := tb.TempDir()
	var lastErr error
	for range 5 { // a free port may be taken before the server binds it
		port := freePort(tb)
		s, err := launch(tb, bin, dir, port)
		if err == nil {
			return s
		}
		lastErr = err
	}
	tb.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// launch starts redis-server on port and waits until it answers PING.
func launch(tb testing.TB, bin, dir string, port int) (*server, error) {
	tb.Helper()
	logfile := filepath.Join(dir, "redis-"+strconv.Itoa(port)+".log")
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", logfile)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	s := &server{addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir}
	opt := s.options()
	opt.DialerRetries = 1 // refused until the server listens: ask again at once
	c := redis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			b, _ := os.ReadFile(logfile)
			return nil, fmt.Errorf("redis-server exited (%v): %s", err, b)
		default:
		}
		// Listening first (a dial of its own: go-redis logs refused
		// dials), then answering.
		conn, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err = c.Ping(ctx).Err()
			cancel()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return nil, fmt.Errorf("redis-server on port %d does not answer: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill() // the server this test started, by its process
		<-done
	})
	return s, nil
}

// options are the client options of the tests: what New asks for, and no
// RESP3 maintenance handshake, which Redis 7.0 does not know.
func (s *server) options() *redis.Options {
	return &redis.Options{
		Addr:                     s.addr,
		ContextTimeoutEnabled:    true,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// rawClient is a client for looking at the server directly.
func (s *server) rawClient(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(s.options())
	tb.Cleanup(func() { c.Close() })
	return c
}

// newStore returns a Store on s with opts, with a client of its own (a
// replica).
func (s *server) newStore(tb testing.TB, opts Options) *Store {
	tb.Helper()
	st, err := New(s.rawClient(tb), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
