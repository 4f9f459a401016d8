package smartecho_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartecho "github.com/smartguard/smartguard/middleware/echo"
	"github.com/smartguard/smartguard/smarttest"
)

func TestRefusalNeverReachesTheHandler(t *testing.T) {
	is, g := newGuard(t)
	tests := []struct {
		name, method, target, token string
		origin                      string
		wantStatus                  int
	}{
		{name: "no token", method: "GET", target: "/fhir/Observation/obs-123", wantStatus: 401},
		{name: "a type the scopes do not name", method: "GET", target: "/fhir/Condition/cond-123",
			token: patientToken(t, is, "patient/Observation.rs"), wantStatus: 403},
		{name: "a path outside the FHIR base", method: "GET", target: "/other/Observation/obs-123",
			token: patientToken(t, is, "patient/Observation.rs"), wantStatus: 404},
		{name: "a CORS preflight", method: "OPTIONS", target: "/fhir/Observation/obs-123", origin: appOrigin, wantStatus: 204},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran bool
			var returned error = errors.New("not returned")
			e := newEcho()
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error { returned = next(c); return returned }
			})
			for _, base := range []string{"/fhir", "/other"} {
				grp := e.Group(base, smartecho.Protect(g, e))
				grp.Any("/:type/:id", func(c echo.Context) error {
					ran = true
					return c.String(http.StatusOK, "the handler wrote this")
				})
			}
			req := newRequest(tc.method, tc.target, tc.token, "")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
				req.Header.Set("Access-Control-Request-Method", "GET")
				req.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			w := serve(e, req)
			if w.Code != tc.wantStatus || ran || returned != nil {
				t.Errorf("status %d (want %d), the handler ran %v, Protect returned %v: %s", w.Code, tc.wantStatus, ran, returned, w.Body)
			}
			if tc.origin != "" && w.Header().Get("Access-Control-Allow-Origin") != tc.origin {
				t.Errorf("preflight without Access-Control-Allow-Origin: %v", w.Header())
			}
		})
	}
}

func TestHandlerSeesTheGrantTheDecisionAndTheRewrittenSearch(t *testing.T) {
	is, g := newGuard(t, func(c *smartmw.Config) { c.RewriteSearch = true })
	var got string
	e := newEcho()
	e.Group("/fhir", smartecho.Protect(g, e)).GET("/Observation", func(c echo.Context) error {
		gr, _ := smartctx.FromContext(c.Request().Context())
		d, _ := smartctx.DecisionFromContext(c.Request().Context())
		got = gr.Patient() + " " + string(d.Interaction()) + " " + c.QueryParam("patient")
		return c.Blob(http.StatusOK, "application/fhir+json", []byte(`{"resourceType":"Bundle","type":"searchset"}`))
	})
	w := serve(e, newRequest("GET", "/fhir/Observation?code=x", patientToken(t, is, "patient/Observation.rs"), ""))
	if w.Code != 200 || got != "123 search-type Patient/123" {
		t.Errorf("%d %s; the handler saw %q", w.Code, w.Body, got)
	}
}

func TestPanicInHandlerReachesEchoRecover(t *testing.T) {
	is, g := newGuard(t)
	e := newEcho()
	var logged bytes.Buffer
	e.Logger.SetOutput(&logged)
	e.Use(middleware.Recover())
	e.Group("/fhir", smartecho.Protect(g, e)).GET("/Observation/:id", func(c echo.Context) error {
		c.Response().Header().Set("ETag", `W/"9"`)
		c.Response().WriteHeader(http.StatusOK)
		c.Response().Write([]byte(resources["Observation/obs-456"]))
		panic("the handler failed")
	})
	w := serve(e, newRequest("GET", "/fhir/Observation/obs-456", patientToken(t, is, "patient/Observation.rs"), ""))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "456") {
		t.Errorf("%d %s, want 500 without the handler's body", w.Code, w.Body)
	}
	if !strings.Contains(logged.String(), "the handler failed") {
		t.Errorf("middleware.Recover did not see the panic: %q", logged.String())
	}
}

func TestHandlerErrorIsAnsweredThroughTheGuard(t *testing.T) {
	is, g := newGuard(t)
	tok := patientToken(t, is, "patient/Observation.rs")
	tests := []struct {
		name, target string
		handler      echo.HTTPErrorHandler // nil for echo's default
		wantStatus   int
	}{
		{"echo's error handler answers an error", "/fhir/Observation/obs-999", nil, 404},
		{"an error handler that writes another patient's resource is refused", "/fhir/Observation/obs-456",
			func(err error, c echo.Context) {
				c.Blob(http.StatusOK, "application/fhir+json", []byte(resources["Observation/obs-456"]))
			}, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var returned error = errors.New("not returned")
			var status int
			e := newEcho()
			if tc.handler != nil {
				e.HTTPErrorHandler = tc.handler
			}
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					returned = next(c)
					status = c.Response().Status
					return returned
				}
			})
			e.Group("/fhir", smartecho.Protect(g, e)).GET("/Observation/:id", func(c echo.Context) error {
				return echo.ErrNotFound
			})
			w := serve(e, newRequest("GET", tc.target, tok, ""))
			if w.Code != tc.wantStatus || status != tc.wantStatus || returned != nil || strings.Contains(w.Body.String(), "456") {
				t.Errorf("%d %s (want %d); the middleware before Protect saw status %d and error %v", w.Code, w.Body, tc.wantStatus, status, returned)
			}
		})
	}
}

func TestFlushStreamsOnlyWhatTheGuardNeedNotHold(t *testing.T) {
	is, g := newGuard(t)
	tests := []struct {
		name, token string
		wantFlushed bool
	}{
		{"a patient/ read is held and checked whole", patientToken(t, is, "patient/Observation.rs"), false},
		{"a practitioner's user/ read streams", is.Token(t, smarttest.Scopes("user/Observation.rs"), smarttest.FHIRUser("Practitioner/9")), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var flushedBeforeEnd bool
			rec := httptest.NewRecorder()
			e := newEcho()
			e.Group("/fhir", smartecho.Protect(g, e)).GET("/Observation/:id", func(c echo.Context) error {
				body := resources["Observation/obs-123"]
				c.Response().WriteHeader(http.StatusOK)
				c.Response().Write([]byte(body[:10]))
				c.Response().Flush()
				flushedBeforeEnd = rec.Flushed
				_, err := c.Response().Write([]byte(body[10:]))
				return err
			})
			e.ServeHTTP(rec, newRequest("GET", "/fhir/Observation/obs-123", tc.token, ""))
			if rec.Code != 200 || rec.Body.String() != resources["Observation/obs-123"] || flushedBeforeEnd != tc.wantFlushed {
				t.Errorf("%d %s; flushed before the end: %v, want %v", rec.Code, rec.Body, flushedBeforeEnd, tc.wantFlushed)
			}
		})
	}
}

func TestHijackFailsWhileTheGuardHoldsTheResponse(t *testing.T) {
	is, g := newGuard(t)
	var err error
	e := newEcho()
	e.Group("/fhir", smartecho.Protect(g, e)).GET("/Observation/:id", func(c echo.Context) error {
		if _, _, err = c.Response().Hijack(); err == nil {
			t.Error("hijacked")
			return nil
		}
		return c.Blob(http.StatusOK, "application/fhir+json", []byte(resources["Observation/obs-456"]))
	})
	w := serve(e, newRequest("GET", "/fhir/Observation/obs-456", patientToken(t, is, "patient/Observation.rs"), ""))
	if err == nil || w.Code != http.StatusForbidden {
		t.Errorf("%d %s, hijack error %v", w.Code, w.Body, err)
	}
}

func TestHeadIsAnsweredByTheGETRouteThroughTheGuard(t *testing.T) {
	is, g := newGuard(t)
	tok := patientToken(t, is, "patient/Observation.rs")
	for _, style := range writeStyles {
		t.Run(style.name, func(t *testing.T) {
			k := &calls{}
			e := protectedLeakyAPI(g, style, k)
			own := serve(e, newRequest("HEAD", "/fhir/Observation/obs-123", tok, ""))
			other := serve(e, newRequest("HEAD", "/fhir/Observation/obs-456", tok, ""))
			if own.Code != 200 || own.Header().Get("ETag") != `W/"1"` || other.Code != 403 || other.Header().Get("ETag") != "" {
				t.Errorf("HEAD of the patient's own Observation: %d %v; of another patient's: %d %v", own.Code, own.Header(), other.Code, other.Header())
			}
			if strings.Contains(k.String(), "HEAD") {
				t.Errorf("the HEAD route's handler ran: %s", k)
			}
		})
	}
}

func TestWriteWhoseReadRouteIsMissingIsRefused(t *testing.T) {
	is, g := newGuard(t)
	tok := patientToken(t, is, "patient/Observation.ud")
	write := func(k *calls) echo.HandlerFunc {
		return func(c echo.Context) error {
			k.add(c.Request().Method + " " + c.Param("id"))
			return c.NoContent(http.StatusNoContent)
		}
	}
	read := func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/fhir+json", []byte(resources["Observation/obs-123"]))
	}
	tests := []struct {
		name   string
		routes func(e *echo.Echo, k *calls)
	}{
		{"no GET route: the group's RouteNotFound answers the read 404", func(e *echo.Echo, k *calls) {
			e.Group("/fhir", smartecho.Protect(g, e)).DELETE("/Observation/:id", write(k))
		}},
		{"the GET route is not behind Protect", func(e *echo.Echo, k *calls) {
			e.GET("/fhir/Observation/:id", read)
			e.Group("/fhir", smartecho.Protect(g, e)).DELETE("/Observation/:id", write(k))
		}},
		{"Protect on the Echo, a RouteNotFound handler answers the read", func(e *echo.Echo, k *calls) {
			e.Use(smartecho.Protect(g, e))
			e.RouteNotFound("/*", read)
			e.DELETE("/fhir/Observation/:id", write(k))
		}},
		{"a middleware before Protect refuses the read", func(e *echo.Echo, k *calls) {
			fhir := e.Group("/fhir", func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					if c.Request().Method == http.MethodGet {
						return echo.ErrNotFound
					}
					return next(c)
				}
			}, smartecho.Protect(g, e))
			fhir.GET("/Observation/:id", read)
			fhir.DELETE("/Observation/:id", write(k))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &calls{}
			e := newEcho()
			tc.routes(e, k)
			w := serve(e, newRequest("DELETE", "/fhir/Observation/obs-456", tok, ""))
			if w.Code != http.StatusBadGateway || len(k.log) > 0 {
				t.Errorf("%d %s, want 502; the write handler ran: %s", w.Code, w.Body, k)
			}
		})
	}
}

func TestProtectPanicsWithoutGuardOrEcho(t *testing.T) {
	_, g := newGuard(t)
	for _, tc := range []struct {
		name string
		g    *smartmw.Guard
		e    *echo.Echo
	}{{"no Guard", nil, echo.New()}, {"no Echo", g, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Protect did not panic")
				}
			}()
			smartecho.Protect(tc.g, tc.e)
		})
	}
}

func TestGzipCompressesWhatTheGuardLetsThrough(t *testing.T) {
	is, g := newGuard(t)
	tok := patientToken(t, is, "patient/Observation.rs")
	placements := []struct {
		name     string
		wire     func(e *echo.Echo, k *calls)
		wantGzip bool // for what the Guard lets through
	}{
		{"middleware.Gzip before Protect compresses", func(e *echo.Echo, k *calls) {
			e.Use(middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1}))
			leakyAPI(e.Group("/fhir", smartecho.Protect(g, e)), writeStyles[1], k)
		}, true},
		{"middleware.Gzip after Protect does not: the Guard asks for identity", func(e *echo.Echo, k *calls) {
			leakyAPI(e.Group("/fhir", smartecho.Protect(g, e), middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1})), writeStyles[1], k)
		}, false},
	}
	for _, pl := range placements {
		t.Run(pl.name, func(t *testing.T) {
			e := newEcho()
			pl.wire(e, &calls{})
			for _, tc := range []struct {
				target     string
				wantStatus int
				wantBody   string
			}{
				{"/fhir/Observation/obs-123", 200, resources["Observation/obs-123"]},
				{"/fhir/Observation/obs-456", 403, ""},
			} {
				req := newRequest("GET", tc.target, tok, "")
				req.Header.Set("Accept-Encoding", "gzip")
				w := serve(e, req)
				body := w.Body.String()
				if gz := w.Header().Get("Content-Encoding") == "gzip"; w.Code == 200 && gz != pl.wantGzip {
					t.Errorf("%s: Content-Encoding %q", tc.target, w.Header().Get("Content-Encoding"))
				}
				if w.Header().Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(w.Body)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(zr)
					body = string(b)
				}
				if w.Code != tc.wantStatus || !strings.Contains(body, tc.wantBody) || strings.Contains(body, "456") {
					t.Errorf("%s: %d %q %s, want %d", tc.target, w.Code, w.Header().Get("Content-Encoding"), body, tc.wantStatus)
				}
			}
		})
	}
}
