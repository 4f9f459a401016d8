package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// BenchmarkDecide: classification and decision of a typical patient-app
// search.
func BenchmarkDecide(b *testing.B) {
	a := newAuthorizer(b, smartmw.Config{})
	g := grant("launch/patient openid fhirUser patient/Patient.r patient/Observation.rs patient/Condition.rs patient/AllergyIntolerance.rs", "123")
	r := httptest.NewRequest("GET", base+"/Observation?patient=123&category=laboratory&_count=50", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := a.Decide(ctx, g, r)
		if err != nil || d.Limits().Patient != "123" {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizerHandler: the same through the middleware, with the
// decision put on the request context (and the response guard holding the
// empty answer).
func BenchmarkAuthorizerHandler(b *testing.B) {
	a := newAuthorizer(b, smartmw.Config{})
	g := grant("launch/patient patient/Observation.rs", "123")
	h := a.Authorize(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", base+"/Observation?patient=123&category=laboratory", nil)
	r = r.WithContext(smartctx.NewContext(r.Context(), g))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

var observation5k = func() []byte {
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Observation","id":"bench","meta":{"versionId":"3","lastUpdated":"2024-01-01T00:00:00Z"},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"24323-8","display":"Comprehensive metabolic panel"}]},"subject":{"reference":"Patient/123"},"performer":[{"reference":"Practitioner/9"}],"component":[`)
	for i := 0; sb.Len() < 4900; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose [Mass/volume] in Serum or Plasma"}]},"valueQuantity":{"value":95,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}`)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}()

func BenchmarkInPatientCompartment(b *testing.B) {
	b.SetBytes(int64(len(observation5k)))
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := smartmw.InPatientCompartment(observation5k, "123"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkPermitsConstraint(b *testing.B) {
	c := scope.MustParseScope("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory").Constraint
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := matchesConstraint(observation5k, c); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
