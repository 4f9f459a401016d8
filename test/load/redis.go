package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// requireRedis is the variable that makes a missing redis-server a
// failure instead of a skipped phase: test.sh and CI set it.
const requireRedis = "SMARTGUARD_REQUIRE_REDIS"

// errNoRedis is the error of startRedis without a redis-server binary.
var errNoRedis = errors.New("redis-server not found: install it (apt-get install redis-server; ./test.sh does)")

// redisServer is a redis-server of this run, on loopback, without
// persistence, in a temporary directory.
type redisServer struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// startRedis starts a redis-server on a free loopback port and waits
// until it answers PING; errNoRedis without the binary.
func startRedis(ctx context.Context) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNoRedis
	}
	dir, err := os.MkdirTemp("", "smartguard-load-redis-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 { // a free port may be taken before the server binds it
		s, err := launchRedis(ctx, bin, dir)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("starting redis-server: %w", lastErr)
}

func launchRedis(ctx context.Context, bin, dir string) (*redisServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logfile := filepath.Join(dir, "redis-"+strconv.Itoa(port)+".log")
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--logfile", logfile)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	c := redis.NewClient(s.options())
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-s.done:
			b, _ := os.ReadFile(logfile)
			return nil, fmt.Errorf("redis-server exited (%v): %s", err, b)
		default:
		}
		// Listening first (a dial of its own: go-redis logs refused
		// dials), then answering.
		conn, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err = c.Ping(pctx).Err()
			cancel()
		}
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			cmd.Process.Kill()
			<-s.done
			return nil, fmt.Errorf("redis-server on port %d does not answer: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// options are the client options: what smartredis.New asks for, and no
// RESP3 maintenance handshake, which Redis 7.0 does not know.
func (s *redisServer) options() *redis.Options {
	return &redis.Options{
		Addr:                     s.addr,
		ContextTimeoutEnabled:    true,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// stop stops the server this run started, by its process, and removes
// its directory.
func (s *redisServer) stop() {
	s.cmd.Process.Kill()
	<-s.done
	os.RemoveAll(s.dir)
}
