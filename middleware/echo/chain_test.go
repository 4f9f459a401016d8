package smartecho_test

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/smartguard/smartguard/internal/adaptertest"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartecho "github.com/smartguard/smartguard/middleware/echo"
)

// What is echo's own: the errors its handlers return, its Gzip
// middleware.

func TestHandlerErrorIsAnsweredThroughTheGuard(t *testing.T) {
	is, g := adaptertest.NewGuard(t)
	tok := adaptertest.PatientToken(t, is, "patient/Observation.rs")
	tests := []struct {
		name, target string
		handler      echo.HTTPErrorHandler // nil for echo's default
		wantStatus   int
	}{
		{"echo's error handler answers an error", "/fhir/Observation/obs-999", nil, 404},
		{"an error handler that writes another patient's resource is refused", "/fhir/Observation/obs-456",
			func(err error, c echo.Context) {
				c.Blob(http.StatusOK, "application/fhir+json", []byte(adaptertest.Resource("Observation/obs-456")))
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
			w := adaptertest.Serve(e, adaptertest.Request("GET", tc.target, tok, ""))
			if w.Code != tc.wantStatus || status != tc.wantStatus || returned != nil || strings.Contains(w.Body.String(), "456") {
				t.Errorf("%d %s (want %d); the middleware before Protect saw status %d and error %v", w.Code, w.Body, tc.wantStatus, status, returned)
			}
		})
	}
}

func TestProtectPanicsWithoutGuardOrEcho(t *testing.T) {
	_, g := adaptertest.NewGuard(t)
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
	is, g := adaptertest.NewGuard(t)
	tok := adaptertest.PatientToken(t, is, "patient/Observation.rs")
	gz := middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1})
	placements := []struct {
		name     string
		wire     func(e *echo.Echo, api adaptertest.API)
		wantGzip bool // for what the Guard lets through
	}{
		{"middleware.Gzip before Protect compresses", func(e *echo.Echo, api adaptertest.API) {
			e.Use(gz)
			mount(e.Group("/fhir", smartecho.Protect(g, e)), api)
		}, true},
		{"middleware.Gzip after Protect does not: the Guard asks for identity", func(e *echo.Echo, api adaptertest.API) {
			mount(e.Group("/fhir", smartecho.Protect(g, e), gz), api)
		}, false},
	}
	for _, pl := range placements {
		t.Run(pl.name, func(t *testing.T) {
			e := newEcho()
			pl.wire(e, adaptertest.API{Routes: new(adaptertest.FHIR).Routes()})
			for _, tc := range []struct {
				target     string
				wantStatus int
				wantBody   string
			}{
				{"/fhir/Observation/obs-123", 200, adaptertest.Resource("Observation/obs-123")},
				{"/fhir/Observation/obs-456", 403, ""},
			} {
				req := adaptertest.Request("GET", tc.target, tok, "")
				req.Header.Set("Accept-Encoding", "gzip")
				w := adaptertest.Serve(e, req)
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
