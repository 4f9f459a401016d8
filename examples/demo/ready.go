package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// The demo answers nothing before it is ready: every route is registered
// before the listener accepts a connection (before it is even bound,
// unless the port is 0 and must be learnt first). The Guard fetches the
// embedded authorization server's keys during that time, so it reaches
// them in-process, through the same routes, rather than over a network
// that is not listening yet.

// bindEarly binds addr now when its port is 0, as the demo's URLs need
// the port the system picks; otherwise it returns nil and the URL root
// the listener will have.
func bindEarly(addr string) (ln net.Listener, root string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", err
	}
	if port == "0" {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, "", err
		}
		return ln, "http://" + ln.Addr().String(), nil
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return nil, "http://" + net.JoinHostPort(host, port), nil
}

// serve binds the listener, if bindEarly did not, and serves the demo's
// routes; Serve's result goes to d.served.
func (d *demo) serve(addr string) error {
	ln := d.ln
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return err
		}
	}
	go func() {
		if err := d.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			d.served <- err
		}
		close(d.served)
	}()
	return nil
}

// inProcess is an http.RoundTripper that serves requests for host (the
// demo's own host:port) with h, in the process, and sends the others to
// next.
type inProcess struct {
	host string
	h    http.Handler
	next http.RoundTripper
}

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != t.host || r.URL.Scheme != "http" {
		return t.next.RoundTrip(r)
	}
	in := r.Clone(r.Context())
	in.RequestURI = r.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, in)
	resp := w.Result()
	resp.Request = r
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return resp, nil
}

// selfClient is the HTTP client the Guard fetches keys with: requests to
// the demo's own root are served by h in-process.
func selfClient(root string, h http.Handler) *http.Client {
	host := root[len("http://"):]
	return &http.Client{Timeout: 10 * time.Second, Transport: inProcess{host: host, h: h, next: http.DefaultTransport}}
}
