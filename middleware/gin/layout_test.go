package smartgin_test

import (
	"testing"

	"github.com/gin-gonic/gin"
)

// TestCatchAllConflictsWithDiscovery pins what the package documentation
// says of gin's router: a catch-all FHIR route cannot live beside the
// discovery route.
func TestCatchAllConflictsWithDiscovery(t *testing.T) {
	for _, order := range []string{"discovery first", "catch-all first"} {
		t.Run(order, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("gin registered both /fhir/*path and /fhir/.well-known/smart-configuration: update the package documentation")
				}
			}()
			r := gin.New()
			nop := func(*gin.Context) {}
			if order == "discovery first" {
				r.GET("/fhir/.well-known/smart-configuration", nop)
				r.Any("/fhir/*path", nop)
			} else {
				r.Any("/fhir/*path", nop)
				r.GET("/fhir/.well-known/smart-configuration", nop)
			}
		})
	}
}
