package middleware_test

// The findings of the attack review "nothing leaves unchecked": each test
// is named after its attack and fails if the attack works.

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/smarttest"
)

// patients456 is a searchset of Organization with the Patients that name
// it, two of them of another patient, as a server answers a _revinclude.
const orgWithPatients = `{"resourceType":"Bundle","type":"searchset","entry":[
{"resource":{"resourceType":"Organization","id":"o1","name":"Clinic"},"search":{"mode":"match"}},
{"resource":{"resourceType":"Patient","id":"123","managingOrganization":{"reference":"Organization/o1"}},"search":{"mode":"include"}},
{"resource":{"resourceType":"Patient","id":"456","name":[{"family":"Other"}],"managingOrganization":{"reference":"Organization/o1"}},"search":{"mode":"include"}},
{"resource":{"resourceType":"Encounter","id":"e9","subject":{"reference":"Patient/456"},"participant":[{"individual":{"reference":"Practitioner/p1"}}]},"search":{"mode":"include"}}]}`

func TestRevincludeOnATypeOutsideTheCompartmentLeaksNoPatient(t *testing.T) {
	for _, tc := range []struct{ name, scopes, target string }{
		{"organization revinclude patient", "patient/Organization.rs patient/Patient.r", "Organization?_revinclude=Patient:organization"},
		{"practitioner revinclude encounter", "patient/Practitioner.rs patient/Encounter.rs", "Practitioner?_revinclude=Encounter:practitioner"},
		{"wildcard under the wildcard rule", "patient/*.rs", "Organization?_revinclude=Patient:organization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smartmw.Config{FHIR: smartmw.FHIROptions{NonCompartment: smartmw.NonCompartmentWildcard}}
			w := guarded(t, cfg, "launch/patient "+tc.scopes, tc.target, orgWithPatients)
			if w.Code == http.StatusOK && leaks(w.Body.Bytes()) {
				t.Fatalf("another patient's resource left: %s", w.Body)
			}
			if w.Code == http.StatusOK && strings.Contains(w.Body.String(), `"id":"456"`) {
				t.Fatalf("another patient's Patient left: %s", w.Body)
			}
		})
	}
}

// served runs one request for Patient/123 through Authorize and h, and
// reports what the client got and whether a request other than the
// guard's own reads reached h.
func served(t *testing.T, cfg smartmw.Config, g *smartctx.Grant, method, target, body string, hdr map[string]string, h http.HandlerFunc) (w *httptest.ResponseRecorder, reached bool) {
	t.Helper()
	a := newAuthorizer(t, cfg)
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var r *http.Request
	if rd != nil {
		r = httptest.NewRequest(method, base+"/"+target, rd)
	} else {
		r = httptest.NewRequest(method, base+"/"+target, nil)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	r = r.WithContext(smartctx.NewContext(r.Context(), g))
	w = httptest.NewRecorder()
	a.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !smartmw.IsStoredRead(r) {
			reached = true
		}
		h(w, r)
	})).ServeHTTP(w, r)
	return w, reached
}

// anOwnObservation answers every request with an Observation of
// Patient/123.
func anOwnObservation(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write([]byte(observation("o1", "Patient/123", labCategory)))
}

func TestConditionalUpdateWithABodyIDThatIsNotAString(t *testing.T) {
	for _, id := range []string{`456`, `["456"]`, `{"value":"456"}`, `null`, `true`} {
		t.Run(id, func(t *testing.T) {
			body := `{"resourceType":"Observation","id":` + id + `,"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}}`
			w, reached := served(t, smartmw.Config{}, grant("patient/Observation.rus", "123"), "PUT", "Observation?patient=123&code=x", body, nil, anOwnObservation)
			if reached || w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, reached the handler: %v; want 400, not reached", w.Code, reached)
			}
		})
	}
}

func TestMethodOverrideIsRefused(t *testing.T) {
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, tc := range []struct {
		name, method, target, body string
		hdr                        map[string]string
	}{
		{"form body _method on a create", "POST", "Observation?patient=456", "_method=DELETE", form},
		{"a JSON body that is also a form with _method", "POST", "Observation?patient=456", `{"resourceType":"Observation","status":"final","code":{"text":"&_method=DELETE&"},"subject":{"reference":"Patient/123"}}`, form},
		{"form body _method escaped", "POST", "Observation", "%5Fmethod=DELETE", form},
		{"form body _method among others", "POST", "Observation", "a=b&_method=DELETE", form},
		{"query _method", "POST", "Observation?_method=DELETE&patient=456", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, nil},
		{"X-HTTP-Method-Override", "POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, map[string]string{"X-HTTP-Method-Override": "DELETE"}},
		{"X-Method-Override", "POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, map[string]string{"X-Method-Override": "DELETE"}},
		{"multipart form with a _method part", "POST", "Observation", "--b\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--b--\r\n", map[string]string{"Content-Type": "multipart/form-data; boundary=b"}},
		{"X-HTTP-Method", "POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`, map[string]string{"X-HTTP-Method": "DELETE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, reached := served(t, smartmw.Config{}, grant("patient/Observation.c", "123"), tc.method, tc.target, tc.body, tc.hdr, anOwnObservation)
			if reached || w.Code != http.StatusBadRequest && w.Code != http.StatusUnsupportedMediaType {
				t.Fatalf("status %d, reached the handler: %v; want 400 or 415, not reached", w.Code, reached)
			}
		})
	}
}

func TestRelatedPersonAndPersonUsersAreNotUnlimited(t *testing.T) {
	for _, fhirUser := range []string{"RelatedPerson/rp1", "Person/pe1", base + "/RelatedPerson/rp1"} {
		t.Run(fhirUser, func(t *testing.T) {
			g := smartctx.NewGrant(smartctx.Claims{Subject: "u1", ClientID: "app", Scopes: scope.Parse("openid fhirUser user/Observation.rs"), FHIRUser: fhirUser})
			w, reached := served(t, smartmw.Config{}, g, "GET", "Observation?patient=456", "", nil, anOwnObservation)
			if reached || w.Code != http.StatusForbidden {
				t.Fatalf("status %d, reached the handler: %v; want 403, not reached", w.Code, reached)
			}
			// With a Policy, the application decides.
			cfg := smartmw.Config{Policy: func(context.Context, *smartctx.Grant, *smartmw.Request) error { return nil }}
			if w, _ := served(t, cfg, g, "GET", "Observation?patient=123", "", nil, anOwnObservation); w.Code != http.StatusOK {
				t.Fatalf("with a Policy: status %d, want 200", w.Code)
			}
		})
	}
}

func TestPatientLinkedTypesOutsideTheCompartmentAreHeldToThePatient(t *testing.T) {
	device := func(pid string) string {
		return `{"resourceType":"Device","id":"d1","patient":{"reference":"Patient/` + pid + `"}}`
	}
	task := func(pid string) string {
		return `{"resourceType":"Task","id":"t1","status":"requested","intent":"order","for":{"reference":"Patient/` + pid + `"}}`
	}
	binary := func(ctx string) string {
		return `{"resourceType":"Binary","id":"b1","contentType":"text/plain","securityContext":{"reference":"` + ctx + `"},"data":"eA=="}`
	}
	for _, tc := range []struct {
		name, scopes, target, answer string
		want                         int
	}{
		{"another patient's Device by id", "patient/Device.rs", "Device/d1", device("456"), http.StatusForbidden},
		{"the patient's own Device by id", "patient/Device.rs", "Device/d1", device("123"), http.StatusOK},
		{"another patient's Device under patient/*.rs", "patient/*.rs", "Device/d1", device("456"), http.StatusForbidden},
		{"another patient's Task", "patient/Task.rs", "Task/t1", task("456"), http.StatusForbidden},
		{"the patient's own Task", "patient/Task.rs", "Task/t1", task("123"), http.StatusOK},
		{"a Binary of another patient", "patient/Binary.r", "Binary/b1", binary("Patient/456"), http.StatusForbidden},
		{"a Binary of the patient", "patient/Binary.r", "Binary/b1", binary("Patient/123"), http.StatusOK},
		{"a Binary whose security context is not the patient", "patient/Binary.r", "Binary/b1", binary("DocumentReference/x"), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := guarded(t, smartmw.Config{}, "launch/patient "+tc.scopes, tc.target, tc.answer)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
	t.Run("a Device search is narrowed and filtered", func(t *testing.T) {
		answer := `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + device("123") + `},{"resource":` + device("456") + `}]}`
		w := guarded(t, smartmw.Config{}, "launch/patient patient/Device.rs", "Device?patient=123", answer)
		if w.Code != http.StatusOK || leaks(w.Body.Bytes()) || !strings.Contains(w.Body.String(), "Patient/123") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		refused(t, smartmw.Config{}, "launch/patient patient/Device.rs", "GET", "Device?patient=456", "", nil)
		refused(t, smartmw.Config{FHIR: smartmw.FHIROptions{RefuseBroadSearches: true}}, "launch/patient patient/Device.rs", "GET", "Device", "", nil)
		refused(t, smartmw.Config{}, "launch/patient patient/Binary.rs", "GET", "Binary", "", nil)
		w = guarded(t, smartmw.Config{}, "launch/patient patient/Device.rs", "Device", answer)
		if w.Code != http.StatusOK || leaks(w.Body.Bytes()) || !strings.Contains(w.Body.String(), "Patient/123") {
			t.Fatalf("Device narrowed: %d %s", w.Code, w.Body)
		}
	})
	t.Run("a Device written for another patient", func(t *testing.T) {
		refused(t, smartmw.Config{}, "launch/patient patient/Device.c", "POST", "Device", device("456"), nil)
	})
	t.Run("a stored Bundle is not written under patient scopes", func(t *testing.T) {
		refused(t, smartmw.Config{}, "launch/patient patient/Bundle.cu", "POST", "Bundle", `{"resourceType":"Bundle","type":"collection"}`, nil)
	})
	t.Run("a stored Bundle holding another patient's resource is not read", func(t *testing.T) {
		doc := `{"resourceType":"Bundle","id":"b1","type":"collection","entry":[{"resource":` + observation("o1", "Patient/123", labCategory) + `},{"resource":` + observation("o2", "Patient/456", labCategory) + `}]}`
		if w := guarded(t, smartmw.Config{}, "launch/patient patient/Bundle.r patient/Observation.r", "Bundle/b1", doc); w.Code != http.StatusForbidden {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}

func TestAPanickingHandlersHeadersDoNotReachTheRecovery(t *testing.T) {
	a := newAuthorizer(t, smartmw.Config{})
	h := a.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `W/"7"`)
		w.Header().Set("Location", base+"/Observation/o456/_history/7")
		panic("the handler fails after setting headers")
	}))
	// A recovery as frameworks have: it answers 500 with what the
	// headers hold then.
	recovered := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if recover() != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
	r := httptest.NewRequest("GET", base+"/Observation/o456", nil)
	r = r.WithContext(smartctx.NewContext(r.Context(), grant("launch/patient patient/Observation.rs", "123")))
	w := httptest.NewRecorder()
	w.Header().Set("Vary", "Origin") // set before the Guard: kept
	recovered.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || w.Header().Get("ETag") != "" || w.Header().Get("Location") != "" || w.Header().Get("Vary") != "Origin" {
		t.Fatalf("status %d, headers %v", w.Code, w.Header())
	}
}

// TestFHIRUserReadsItsOwnResource: with the fhirUser scope a user reads
// the resource its fhirUser names, exactly that one, whatever its other
// scopes (SMART App Launch: fhirUser), constrained or held to a patient
// as they may be; an absolute fhirUser counts only on this server's base,
// compared as a URL; a search for it is decided by the scopes alone.
func TestFHIRUserReadsItsOwnResource(t *testing.T) {
	own := `{"resourceType":"Practitioner","id":"dr-jones"}`
	for _, tc := range []struct {
		name, scopes, fhirUser, target string
		answer                         string // the handler's, own when empty
		want                           int
	}{
		{"the practitioner's own resource", "openid fhirUser patient/*.rs", "Practitioner/dr-jones", "Practitioner/dr-jones", "", 200},
		{"the handler answering another resource", "openid fhirUser patient/*.rs", "Practitioner/dr-jones", "Practitioner/dr-jones", `{"resourceType":"Practitioner","id":"dr-lee"}`, 403},
		{"the handler answering a Bundle", "openid fhirUser patient/*.rs", "Practitioner/dr-jones", "Practitioner/dr-jones", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + observation("o9", "Patient/456", labCategory) + `}]}`, 403},
		{"the own resource holding another patient's", "openid fhirUser patient/*.rs", "Practitioner/dr-jones", "Practitioner/dr-jones", `{"resourceType":"Practitioner","id":"dr-jones","contained":[` + observation("o9", "Patient/456", labCategory) + `]}`, 403},
		{"a vread of it", "openid fhirUser patient/*.rs", "Practitioner/dr-jones", "Practitioner/dr-jones/_history/1", "", 200},
		{"as an absolute URL on this base", "openid fhirUser patient/*.rs", base + "/Practitioner/dr-jones", "Practitioner/dr-jones", "", 200},
		{"another practitioner", "openid fhirUser patient/*.rs", "Practitioner/dr-jones", "Practitioner/dr-lee", "", 403},
		{"without the fhirUser scope", "openid patient/*.rs", "Practitioner/dr-jones", "Practitioner/dr-jones", "", 403},
		{"an absolute URL on another server", "openid fhirUser patient/*.rs", "https://other.example.org/fhir/Practitioner/dr-jones", "Practitioner/dr-jones", "", 403},
		{"its history is not a read of it", "openid fhirUser patient/*.rs", "Practitioner/dr-jones", "Practitioner/dr-jones/_history", "", 403},
		{"a search for it is not a read of it", "openid fhirUser patient/*.rs", "Practitioner/dr-jones", "Practitioner?_id=dr-jones", `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + own + `}]}`, 403},
		{"a granular scope its resource does not match", "openid fhirUser user/Practitioner.rs?identifier=http://example.org/npi|1", "Practitioner/dr-jones", "Practitioner/dr-jones", "", 200},
		{"a granular scope, the handler answering another resource", "openid fhirUser user/Practitioner.rs?identifier=http://example.org/npi|1", "Practitioner/dr-jones", "Practitioner/dr-jones", `{"resourceType":"Practitioner","id":"dr-lee"}`, 403},
		{"a granular scope, another practitioner", "openid fhirUser user/Practitioner.rs?identifier=http://example.org/npi|1", "Practitioner/dr-jones", "Practitioner/dr-lee", `{"resourceType":"Practitioner","id":"dr-lee"}`, 403},
		{"a granular scope without the fhirUser scope", "openid user/Practitioner.rs?identifier=http://example.org/npi|1", "Practitioner/dr-jones", "Practitioner/dr-jones", "", 403},
		{"a patient user's own Patient under another patient's context", "openid fhirUser launch/patient patient/*.rs", "Patient/456", "Patient/456", `{"resourceType":"Patient","id":"456"}`, 200},
		{"as an absolute URL with an upper-case host", "openid fhirUser patient/*.rs", "https://EHR.Example.ORG/fhir/Practitioner/dr-jones", "Practitioner/dr-jones", "", 200},
		{"as an absolute URL with the default port", "openid fhirUser patient/*.rs", "https://ehr.example.org:443/fhir/Practitioner/dr-jones", "Practitioner/dr-jones", "", 200},
		{"as an absolute URL under a base that only starts with this one's", "openid fhirUser patient/*.rs", "https://ehr.example.org/fhirx/Practitioner/dr-jones", "Practitioner/dr-jones", "", 403},
		{"as an absolute URL under another base of this host", "openid fhirUser patient/*.rs", "https://ehr.example.org/tenant-b/Practitioner/dr-jones", "Practitioner/dr-jones", "", 403},
		{"as an absolute URL over http", "openid fhirUser patient/*.rs", "http://ehr.example.org/fhir/Practitioner/dr-jones", "Practitioner/dr-jones", "", 403},
		{"as a version of it", "openid fhirUser patient/*.rs", "Practitioner/dr-jones/_history/1", "Practitioner/dr-jones", "", 403},
		{"with a trailing slash", "openid fhirUser patient/*.rs", "Practitioner/dr-jones/", "Practitioner/dr-jones", "", 403},
		{"climbing out of the base", "openid fhirUser patient/*.rs", "https://ehr.example.org/fhir/x/../Practitioner/dr-jones", "Practitioner/dr-jones", "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := smartctx.NewGrant(smartctx.Claims{Subject: "u1", ClientID: "app", Scopes: scope.Parse("launch/patient " + tc.scopes), Patient: "123", FHIRUser: tc.fhirUser})
			w, _ := served(t, smartmw.Config{}, g, "GET", tc.target, "", nil, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/fhir+json")
				w.Write([]byte(cmp.Or(tc.answer, own)))
			})
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}

// TestMetadataIsPublicAndChecked: GET [base]/metadata needs no token by
// default and answers any origin, but only a CapabilityStatement leaves;
// MetadataNeedsToken puts it behind authentication.
func TestMetadataIsPublicAndChecked(t *testing.T) {
	capability := `{"resourceType":"CapabilityStatement","status":"active","kind":"instance","fhirVersion":"4.0.1","format":["json"]}`
	serve := func(t *testing.T, cfg func(*smartmw.Config), answer, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
		t.Helper()
		is := smarttest.NewIssuer(t)
		c := is.Config()
		c.AllowedOrigins = []string{"https://app.example.org"}
		if cfg != nil {
			cfg(&c)
		}
		guard, err := smartmw.New(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		h := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.Write([]byte(answer))
		}))
		u, _ := url.Parse(c.Issuer.Audience)
		r := httptest.NewRequest(method, u.Path+path, nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	needsToken := func(c *smartmw.Config) { c.FHIR.MetadataNeedsToken = true }
	evil := map[string]string{"Origin": "https://any.example"}
	for _, tc := range []struct {
		name           string
		cfg            func(*smartmw.Config)
		answer, method string
		path           string
		hdr            map[string]string
		want           int
		wantAnyOrigin  bool
	}{
		{"without a token, from any origin", nil, capability, "GET", "/metadata", evil, 200, true},
		{"with a query", nil, capability, "GET", "/metadata?mode=full", nil, 200, true},
		{"HEAD", nil, capability, "HEAD", "/metadata", nil, 200, true},
		{"a preflight from any origin", nil, capability, "OPTIONS", "/metadata", map[string]string{"Origin": "https://any.example", "Access-Control-Request-Method": "GET"}, 204, true},
		{"a handler answering a Patient there", nil, `{"resourceType":"Patient","id":"456"}`, "GET", "/metadata", nil, 502, false},
		{"a handler answering XML there", nil, `<CapabilityStatement xmlns="http://hl7.org/fhir"/>`, "GET", "/metadata", nil, 502, false},
		{"XML asked for", nil, capability, "GET", "/metadata?_format=xml", nil, 406, false},
		{"a POST is no read of it", nil, capability, "POST", "/metadata", nil, 401, false},
		{"below it", nil, capability, "GET", "/metadata/x", nil, 401, false},
		{"MetadataNeedsToken", needsToken, capability, "GET", "/metadata", nil, 401, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(t, tc.cfg, tc.answer, tc.method, tc.path, tc.hdr)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin") == "*"; got != tc.wantAnyOrigin {
				t.Errorf("Access-Control-Allow-Origin %q", w.Header().Get("Access-Control-Allow-Origin"))
			}
			if strings.Contains(w.Body.String(), `"456"`) || tc.method == "HEAD" && w.Body.Len() > 0 {
				t.Errorf("body %s", w.Body)
			}
		})
	}
}

// TestRefusalsCarryCORSForAllowedOrigins: a browser app reads why it was
// refused: every answer to an allowed origin, refusals included, carries
// its CORS headers, and none to another origin.
func TestRefusalsCarryCORSForAllowedOrigins(t *testing.T) {
	is := smarttest.NewIssuer(t)
	c := is.Config()
	c.AllowedOrigins = []string{"https://app.example.org"}
	guard, err := smartmw.New(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	h := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(observation("o1", "Patient/456", labCategory)))
	}))
	u, _ := url.Parse(c.Issuer.Audience)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
	for _, tc := range []struct {
		name, target, token, origin string
		want                        int
		cors                        bool
	}{
		{"401 without a token", "/Observation/o1", "", "https://app.example.org", 401, true},
		{"403 for a type not granted", "/Condition/c1", tok, "https://app.example.org", 403, true},
		{"403 from the response guard", "/Observation/o1", tok, "https://app.example.org", 403, true},
		{"401 to another origin", "/Observation/o1", "", "https://evil.example", 401, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", u.Path+tc.target, nil)
			r.Header.Set("Origin", tc.origin)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get("Access-Control-Allow-Origin")
			if w.Code != tc.want || (got == tc.origin) != tc.cors || tc.cors && !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "Origin") {
				t.Fatalf("status %d, Access-Control-Allow-Origin %q, Vary %q", w.Code, got, w.Header().Values("Vary"))
			}
		})
	}
}

// TestFHIRUserOnAMovedBase: behind a proxy that serves the audience's
// API under another path (Config.Base), the fhirUser's base is still the
// audience, the URL the authorization server and clients know: a URL on
// the local path is not this base.
func TestFHIRUserOnAMovedBase(t *testing.T) {
	cfg := smartmw.Config{Issuer: smartmw.Issuer{Audience: "https://fhir.example.org/r4"}, Base: "/fhir"}
	own := `{"resourceType":"Practitioner","id":"dr-jones"}`
	for _, tc := range []struct {
		name, fhirUser string
		want           int
	}{
		{"relative", "Practitioner/dr-jones", 200},
		{"a URL on the audience", "https://fhir.example.org/r4/Practitioner/dr-jones", 200},
		{"a URL on the local path", "https://fhir.example.org/fhir/Practitioner/dr-jones", 403},
		{"a URL on the local path of the request's host", "https://ehr.example.org/fhir/Practitioner/dr-jones", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := smartctx.NewGrant(smartctx.Claims{Subject: "u1", ClientID: "app", Scopes: scope.Parse("openid fhirUser launch/patient patient/*.rs"), Patient: "123", FHIRUser: tc.fhirUser})
			w, _ := served(t, cfg, g, "GET", "Practitioner/dr-jones", "", nil, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/fhir+json")
				w.Write([]byte(own))
			})
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}
