package smartgin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/smartguard/smartguard/internal/adaptertest"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartgin "github.com/smartguard/smartguard/middleware/gin"
)

// What is gin's own: its chain of handlers, its writer's semantics.

func TestAbortInHandlerStopsLaterHandlersAndStillGoesThroughTheGuard(t *testing.T) {
	is, g := adaptertest.NewGuard(t)
	tok := adaptertest.PatientToken(t, is, "patient/Observation.rs")
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
				c.AbortWithStatusJSON(http.StatusOK, json.RawMessage(adaptertest.Resource("Observation/"+c.Param("id"))))
			}, func(c *gin.Context) { later = true })
			w := adaptertest.Serve(r, adaptertest.Request("GET", tc.target, tok, ""))
			if w.Code != tc.wantStatus || later || strings.Contains(w.Body.String(), "456") {
				t.Errorf("%d %s (want %d); the later handler ran: %v", w.Code, w.Body, tc.wantStatus, later)
			}
		})
	}
}

func TestWriterKeepsGinSemanticsAndReportsWhatTheClientGot(t *testing.T) {
	is, g := adaptertest.NewGuard(t)
	tok := adaptertest.PatientToken(t, is, "patient/Observation.rs")
	own, other := adaptertest.Resource("Observation/obs-123"), adaptertest.Resource("Observation/obs-456")
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
			c.Data(http.StatusOK, "application/fhir+json", []byte(own))
			c.Status(http.StatusCreated)
		}, []any{200, true, len(own)}, 200},
		{"a resource the Guard refuses", "/fhir/Observation/obs-456", func(c *gin.Context) {
			c.Data(http.StatusOK, "application/fhir+json", []byte(other))
		}, []any{200, true, len(other)}, 403},
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
			w := adaptertest.Serve(r, adaptertest.Request("GET", tc.target, tok, ""))
			want := append(append([]any{false, -1, 200}, tc.wantWritten...), "after", tc.wantStatus)
			if w.Code != tc.wantStatus || fmt.Sprint(trace) != fmt.Sprint(want) {
				t.Errorf("%d %s; trace %v, want %v", w.Code, w.Body, trace, want)
			}
		})
	}
}

func TestProtectPanicsWithoutGuardOrEngine(t *testing.T) {
	_, g := adaptertest.NewGuard(t)
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
