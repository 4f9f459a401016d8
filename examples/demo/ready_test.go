package main

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestAnswersNothingBeforeItIsReady(t *testing.T) {
	t.Run("a fixed port is bound only once every route is registered", func(t *testing.T) {
		// A free port may be taken by another process before the demo
		// binds it: try another, and fail (never skip) if every try does.
		var lastErr error
		for range 5 {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			d, err := prepare(t.Context(), options{addr: addr})
			if err != nil {
				t.Fatal(err)
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s accepts connections before the demo is ready", addr)
			}
			if lastErr = d.serve(addr); lastErr != nil {
				continue
			}
			t.Cleanup(func() { d.srv.Close() })
			if code, body := get(t, d.audience+"/.well-known/smart-configuration", ""); code != 200 {
				t.Errorf("discovery once ready: %d %s", code, body)
			}
			return
		}
		t.Fatalf("every free port was taken before the demo bound it: %v", lastErr)
	})
	t.Run("with port 0, a request sent early is answered once ready, never 404", func(t *testing.T) {
		d, err := prepare(t.Context(), options{addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.srv.Close(); d.ln.Close() })
		answered := make(chan int, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", d.audience+"/.well-known/smart-configuration", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answered <- 0
				return
			}
			resp.Body.Close()
			answered <- resp.StatusCode
		}()
		select {
		case code := <-answered:
			t.Fatalf("answered %d before the demo was served", code)
		case <-time.After(300 * time.Millisecond):
		}
		if err := d.serve("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if code := <-answered; code != 200 {
			t.Errorf("the early request got %d, want 200", code)
		}
	})
}
