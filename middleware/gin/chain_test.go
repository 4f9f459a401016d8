package smartgin_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartgin "github.com/smartguard/smartguard/middleware/gin"
	"github.com/smartguard/smartguard/smarttest"
)

// patientToken returns a token of patient 123 with scopes.
func patientToken(t *testing.T, is *smarttest.Issuer, scopes string) string {
	t.Helper()
	return is.Token(t, smarttest.Scopes("launch/patient "+scopes), smarttest.Patient("123"))
}

func TestRefusalAbortsTheChain(t *testing.T) {
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
			var ran, aborted bool
			r := gin.New()
			r.Use(func(c *gin.Context) { c.Next(); aborted = c.IsAborted() })
			for _, base := range []string{"/fhir", "/other"} {
				grp := r.Group(base, smartgin.Protect(g, r), func(c *gin.Context) { ran = true })
				grp.Any("/:type/:id", func(c *gin.Context) {
					ran = true
					c.String(http.StatusOK, "a later handler wrote this")
				})
			}
			req := newRequest(tc.method, tc.target, tc.token, "")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
				req.Header.Set("Access-Control-Request-Method", "GET")
				req.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			w := serve(r, req)
			if w.Code != tc.wantStatus || ran || !aborted {
				t.Errorf("status %d (want %d), later handlers ran %v, aborted %v: %s", w.Code, tc.wantStatus, ran, aborted, w.Body)
			}
			if strings.Contains(w.Body.String(), "later handler") {
				t.Errorf("a later handler wrote past the refusal: %s", w.Body)
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
	r := gin.New()
	r.Group("/fhir", smartgin.Protect(g, r)).GET("/Observation", func(c *gin.Context) {
		gr, _ := smartctx.FromContext(c.Request.Context())
		d, _ := smartctx.DecisionFromContext(c.Request.Context())
		got = gr.Patient() + " " + string(d.Interaction()) + " " + c.Query("patient")
		c.Data(http.StatusOK, "application/fhir+json", []byte(`{"resourceType":"Bundle","type":"searchset"}`))
	})
	w := serve(r, newRequest("GET", "/fhir/Observation?code=x", patientToken(t, is, "patient/Observation.rs"), ""))
	if w.Code != 200 || got != "123 search-type Patient/123" {
		t.Errorf("%d %s; the handler saw %q", w.Code, w.Body, got)
	}
}

func TestPanicInHandlerReachesGinRecovery(t *testing.T) {
	is, g := newGuard(t)
	r := gin.New()
	var recovered bytes.Buffer
	r.Use(gin.RecoveryWithWriter(&recovered))
	r.Group("/fhir", smartgin.Protect(g, r)).GET("/Observation/:id", func(c *gin.Context) {
		c.Header("ETag", `W/"9"`)
		c.Status(http.StatusOK)
		c.Writer.WriteString(resources["Observation/obs-456"])
		panic("the handler failed")
	})
	w := serve(r, newRequest("GET", "/fhir/Observation/obs-456", patientToken(t, is, "patient/Observation.rs"), ""))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "456") {
		t.Errorf("%d %s, want 500 without the handler's body", w.Code, w.Body)
	}
	if !strings.Contains(recovered.String(), "the handler failed") {
		t.Errorf("gin.Recovery did not see the panic: %q", recovered.String())
	}
}

func TestAbortInHandlerStopsLaterHandlersAndStillGoesThroughTheGuard(t *testing.T) {
	is, g := newGuard(t)
	tok := patientToken(t, is, "patient/Observation.rs")
	tests := []struct {
		name, target string
		wantStatus   int
	}{
		{"the patient's own resource", "/fhir/Observation/obs-123", 200},
		{"another patient's resource", "/fhir/Observation/obs-456", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			later := false
			r := gin.New()
			r.Group("/fhir", smartgin.Protect(g, r)).GET("/Observation/:id", func(c *gin.Context) {
				c.AbortWithStatusJSON(http.StatusOK, json(resources["Observation/"+c.Param("id")]))
			}, func(c *gin.Context) { later = true })
			w := serve(r, newRequest("GET", tc.target, tok, ""))
			if w.Code != tc.wantStatus || later || strings.Contains(w.Body.String(), "456") {
				t.Errorf("%d %s (want %d); the later handler ran: %v", w.Code, w.Body, tc.wantStatus, later)
			}
		})
	}
}

func TestWriterKeepsGinSemanticsAndReportsWhatTheClientGot(t *testing.T) {
	is, g := newGuard(t)
	tok := patientToken(t, is, "patient/Observation.rs")
	tests := []struct {
		name, target string
		write        func(c *gin.Context)
		wantWritten  []any // Status, Written and Size after write
		wantStatus   int   // what the client gets: 502 for a read answered without a resource, which the Guard cannot check
	}{
		{"a status alone is sent after the handlers", "/fhir/Observation/obs-123",
			func(c *gin.Context) { c.Status(http.StatusNoContent) }, []any{204, false, -1}, 502},
		{"WriteHeaderNow sends the status", "/fhir/Observation/obs-123", func(c *gin.Context) {
			c.Status(http.StatusAccepted)
			c.Writer.WriteHeaderNow()
		}, []any{202, true, 0}, 502},
		{"a status cannot change once written", "/fhir/Observation/obs-123", func(c *gin.Context) {
			c.Data(http.StatusOK, "application/fhir+json", []byte(resources["Observation/obs-123"]))
			c.Status(http.StatusCreated)
		}, []any{200, true, len(resources["Observation/obs-123"])}, 200},
		{"a resource the Guard refuses", "/fhir/Observation/obs-456", func(c *gin.Context) {
			c.Data(http.StatusOK, "application/fhir+json", []byte(resources["Observation/obs-456"]))
		}, []any{200, true, len(resources["Observation/obs-456"])}, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var trace []any
			r := gin.New()
			r.Use(func(c *gin.Context) {
				c.Next()
				trace = append(trace, "after", c.Writer.Status())
			})
			r.Group("/fhir", smartgin.Protect(g, r)).GET("/Observation/:id", func(c *gin.Context) {
				trace = append(trace, c.Writer.Written(), c.Writer.Size(), c.Writer.Status())
				tc.write(c)
				trace = append(trace, c.Writer.Status(), c.Writer.Written(), c.Writer.Size())
			})
			w := serve(r, newRequest("GET", tc.target, tok, ""))
			want := append(append([]any{false, -1, 200}, tc.wantWritten...), "after", tc.wantStatus)
			if w.Code != tc.wantStatus || !equal(trace, want) {
				t.Errorf("%d %s; trace %v, want %v", w.Code, w.Body, trace, want)
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
			rec := newRecorder()
			r := gin.New()
			r.Group("/fhir", smartgin.Protect(g, r)).GET("/Observation/:id", func(c *gin.Context) {
				c.Status(http.StatusOK)
				body := resources["Observation/obs-123"]
				c.Stream(func(w io.Writer) bool {
					io.WriteString(w, body[:10])
					body = body[10:]
					return false
				})
				flushedBeforeEnd = rec.Flushed
				c.Writer.WriteString(body)
			})
			r.ServeHTTP(closeNotifier{rec}, newRequest("GET", "/fhir/Observation/obs-123", tc.token, ""))
			if rec.Code != 200 || rec.Body.String() != resources["Observation/obs-123"] || flushedBeforeEnd != tc.wantFlushed {
				t.Errorf("%d %s; flushed before the end: %v, want %v", rec.Code, rec.Body, flushedBeforeEnd, tc.wantFlushed)
			}
		})
	}
}

func TestHijackFailsWhileTheGuardHoldsTheResponse(t *testing.T) {
	is, g := newGuard(t)
	var err error
	r := gin.New()
	r.Group("/fhir", smartgin.Protect(g, r)).GET("/Observation/:id", func(c *gin.Context) {
		_, _, err = c.Writer.Hijack()
		if err == nil {
			t.Error("hijacked")
			return
		}
		c.Data(http.StatusOK, "application/fhir+json", []byte(resources["Observation/obs-456"]))
	})
	w := serve(r, newRequest("GET", "/fhir/Observation/obs-456", patientToken(t, is, "patient/Observation.rs"), ""))
	if err == nil || w.Code != http.StatusForbidden {
		t.Errorf("%d %s, hijack error %v", w.Code, w.Body, err)
	}
}

func TestHeadRevealsNothingTheGuardRefuses(t *testing.T) {
	is, g := newGuard(t, func(c *smartmw.Config) { c.NotFoundForDenied = true })
	tok := patientToken(t, is, "patient/Observation.rs")
	for _, style := range writeStyles {
		t.Run(style.name, func(t *testing.T) {
			k := &calls{}
			r := protectedLeakyAPI(g, style, k)
			own := serve(r, newRequest("HEAD", "/fhir/Observation/obs-123", tok, ""))
			other := serve(r, newRequest("HEAD", "/fhir/Observation/obs-456", tok, ""))
			missing := serve(r, newRequest("HEAD", "/fhir/Observation/obs-999", tok, ""))
			if own.Code != 200 || own.Header().Get("ETag") != `W/"1"` {
				t.Errorf("HEAD of the patient's own Observation: %d %v", own.Code, own.Header())
			}
			if other.Code != 404 || missing.Code != 404 {
				t.Errorf("HEAD of another patient's Observation %d, of a missing one %d; want 404 for both", other.Code, missing.Code)
			}
			for _, h := range []string{"ETag", "Content-Type", "Content-Length"} {
				if a, b := other.Header().Get(h), missing.Header().Get(h); a != b {
					t.Errorf("%s: %q for another patient's resource, %q for a missing one", h, a, b)
				}
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
	write := func(k *calls) gin.HandlerFunc {
		return func(c *gin.Context) {
			k.add(c.Request.Method + " " + c.Param("id"))
			c.Status(http.StatusNoContent)
		}
	}
	read := func(c *gin.Context) {
		c.Data(http.StatusOK, "application/fhir+json", []byte(resources["Observation/obs-123"]))
	}
	tests := []struct {
		name   string
		routes func(r *gin.Engine, k *calls)
	}{
		{"no GET route: gin answers the read 404", func(r *gin.Engine, k *calls) {
			r.Group("/fhir", smartgin.Protect(g, r)).DELETE("/Observation/:id", write(k))
		}},
		{"the GET route is not behind Protect", func(r *gin.Engine, k *calls) {
			r.GET("/fhir/Observation/:id", read)
			r.Group("/fhir", smartgin.Protect(g, r)).DELETE("/Observation/:id", write(k))
		}},
		{"a NoRoute handler answers the read", func(r *gin.Engine, k *calls) {
			r.NoRoute(read)
			r.Group("/fhir", smartgin.Protect(g, r)).DELETE("/Observation/:id", write(k))
		}},
		{"Protect on the engine, no GET route: gin's 404 passes Protect", func(r *gin.Engine, k *calls) {
			r.Use(smartgin.Protect(g, r))
			r.DELETE("/fhir/Observation/:id", write(k))
		}},
		{"a middleware before Protect refuses the read", func(r *gin.Engine, k *calls) {
			fhir := r.Group("/fhir", func(c *gin.Context) {
				if c.Request.Method == http.MethodGet {
					c.AbortWithStatus(http.StatusNotFound)
				}
			}, smartgin.Protect(g, r))
			fhir.GET("/Observation/:id", read)
			fhir.DELETE("/Observation/:id", write(k))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &calls{}
			r := gin.New()
			tc.routes(r, k)
			w := serve(r, newRequest("DELETE", "/fhir/Observation/obs-456", tok, ""))
			if w.Code != http.StatusBadGateway || len(k.log) > 0 {
				t.Errorf("%d %s, want 502; the write handler ran: %s", w.Code, w.Body, k)
			}
		})
	}
}

func TestProtectPanicsWithoutGuardOrEngine(t *testing.T) {
	_, g := newGuard(t)
	for _, tc := range []struct {
		name   string
		g      *smartmw.Guard
		engine *gin.Engine
	}{{"no Guard", nil, gin.New()}, {"no Engine", g, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Protect did not panic")
				}
			}()
			smartgin.Protect(tc.g, tc.engine)
		})
	}
}
