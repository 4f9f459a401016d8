package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/smarttest"
)

// anyPatientStore is a FHIR handler that knows nothing of SMART: it
// serves every resource it is asked for, and records the writes it makes.
type anyPatientStore struct{ writes []string }

func (s *anyPatientStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writes = append(s.writes, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}`)
		return
	}
	if len(parts) < 3 {
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset","entry":[`+
			`{"resource":{"resourceType":"Observation","id":"o123","subject":{"reference":"Patient/123"}}},`+
			`{"resource":{"resourceType":"Observation","id":"o456","subject":{"reference":"Patient/456"}}}]}`)
		return
	}
	typ, id := parts[len(parts)-2], parts[len(parts)-1]
	owner, _, _ := strings.Cut(strings.TrimPrefix(id, "o"), "-") // o123-7 is Patient/123's
	if typ == "Patient" {
		fmt.Fprintf(w, `{"resourceType":"Patient","id":%q}`, id)
		return
	}
	fmt.Fprintf(w, `{"resourceType":%q,"id":%q,"subject":{"reference":"Patient/%s"}}`, typ, id, owner)
}

// TestHandlerCannotWidenItsDecision: whatever a handler does with the
// Decision it is given (change what the getters return, put another
// Decision on the context, call next with it), the guard enforces the
// decision the authorizer made.
func TestHandlerCannotWidenItsDecision(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	store := &anyPatientStore{}
	widening := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := smartctx.DecisionFromContext(r.Context())
		l := d.Limits()
		l.Patient, l.Constraints = "", nil
		if cs := d.Limits().Constraints; len(cs) > 0 {
			cs[0] = nil
		}
		wide := smartctx.NewDecision(d.Request(), l)
		r = r.WithContext(smartctx.WithDecision(r.Context(), wide))
		store.ServeHTTP(w, r)
	})
	h := guard.Handler(widening)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
	for _, tc := range []struct {
		target string
		want   int
	}{
		{"/r4/Observation/o123", 200},
		{"/r4/Observation/o456", 403},
	} {
		if w := do(t, h, "GET", tc.target, tok, ""); w.Code != tc.want {
			t.Errorf("GET %s: %d, want %d: %s", tc.target, w.Code, tc.want, w.Body)
		}
	}
	w := do(t, h, "GET", "/r4/Observation?patient=123", tok, "")
	if strings.Contains(w.Body.String(), "456") {
		t.Errorf("search leaked another patient's entry: %s", w.Body)
	}
}

// TestPatientUserStaysInCompartment: user/ scopes of a user whose
// fhirUser is a Patient (a patient-portal login) reach that patient's
// compartment only, unless SkipPatientUserCompartment; a search that does
// not name the patient is narrowed to it (the store here ignores the
// added parameter: the guard withholds the rest), or refused with
// RefuseBroadSearches; a Patient this server cannot place (on another
// server or base, or a version) gets nothing from user/ scopes, rather
// than everything.
func TestPatientUserStaysInCompartment(t *testing.T) {
	is := smarttest.NewIssuer(t)
	tests := []struct {
		name     string
		skip     bool
		fhirUser string
		target   string
		want     int
		refuse   bool // RefuseBroadSearches
	}{
		{"patient user reads own Observation", false, "Patient/123", "/r4/Observation/o123", 200, false},
		{"patient user reads another's Observation", false, "Patient/123", "/r4/Observation/o456", 403, false},
		{"patient user reads own Patient", false, "Patient/123", "/r4/Patient/123", 200, false},
		{"patient user reads another Patient", false, "Patient/123", "/r4/Patient/456", 403, false},
		{"patient user searches without naming the patient: narrowed", false, "Patient/123", "/r4/Observation", 200, false},
		{"patient user searches without naming the patient: refused with RefuseBroadSearches", false, "Patient/123", "/r4/Observation", 403, true},
		{"patient user searches another's compartment", false, "Patient/123", "/r4/Observation?patient=456", 403, false},
		{"patient user searches own compartment", false, "Patient/123", "/r4/Observation?patient=123", 200, false},
		{"patient user (absolute fhirUser) reads another's Observation", false, "https://ehr.example.org/fhir/Patient/123", "/r4/Observation/o456", 403, false},
		{"patient user system search", false, "Patient/123", "/r4/?_type=Observation", 403, false},
		{"patient user type history", false, "Patient/123", "/r4/Observation/_history", 403, false},
		{"practitioner user reads any Observation (no Policy)", false, "Practitioner/9", "/r4/Observation/o456", 200, false},
		{"user without fhirUser reads any Observation (no Policy)", false, "", "/r4/Observation/o456", 200, false},
		{"skip: patient user reads another's Observation", true, "Patient/123", "/r4/Observation/o456", 200, false},
		{"patient user on another server reads that id's Observation here", false, "https://ehr.example.org/fhir/Patient/123", "/r4/Observation/o123", 403, false},
		{"patient user on another server reads that id's Patient here", false, "https://ehr.example.org/fhir/Patient/123", "/r4/Patient/123", 403, false},
		{"patient user on another server searches", false, "https://ehr.example.org/fhir/Patient/123", "/r4/Observation?patient=123", 403, false},
		{"patient user on a base that only starts with this one's", false, "https://fhir.example.org/r4x/Patient/123", "/r4/Observation/o123", 403, false},
		{"patient user on another base of this host", false, "https://fhir.example.org/tenant-b/Patient/123", "/r4/Observation/o123", 403, false},
		{"patient user with a version of a Patient", false, "Patient/123/_history/1", "/r4/Observation/o123", 403, false},
		{"patient user as a URL on this base reads own Observation", false, "https://fhir.example.org/r4/Patient/123", "/r4/Observation/o123", 200, false},
		{"patient user as a URL on this base reads another's Observation", false, "https://fhir.example.org/r4/Patient/123", "/r4/Observation/o456", 403, false},
		{"patient user as a URL with an upper-case host and the default port", false, "https://FHIR.example.org:443/r4/Patient/123", "/r4/Observation/o123", 200, false},
		{"practitioner user on another server reads any Observation (no Policy)", false, "https://ehr.example.org/fhir/Practitioner/9", "/r4/Observation/o456", 200, false},
		{"skip: patient user on another server", true, "https://ehr.example.org/fhir/Patient/123", "/r4/Observation/o456", 200, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			guard := newGuard(t, is, func(cfg *smartmw.Config) {
				cfg.FHIR.SkipPatientUserCompartment = tc.skip
				cfg.FHIR.RefuseBroadSearches = tc.refuse
			})
			opts := []smarttest.TokenOption{smarttest.Scopes("openid fhirUser user/*.rs")}
			if tc.fhirUser != "" {
				opts = append(opts, smarttest.FHIRUser(tc.fhirUser))
			}
			w := do(t, guard.Handler(&anyPatientStore{}), "GET", tc.target, is.Token(t, opts...), "")
			if w.Code != tc.want {
				t.Errorf("GET %s: %d, want %d: %s", tc.target, w.Code, tc.want, w.Body)
			}
			if !tc.skip && strings.HasPrefix(tc.fhirUser, "Patient/") && strings.Contains(w.Body.String(), "Patient/456") {
				t.Errorf("GET %s leaked another patient's data: %s", tc.target, w.Body)
			}
		})
	}
}

// TestPatientUserCannotWriteAnotherPatient: writes by a patient user go
// through the same compartment checks as patient/ scopes.
func TestPatientUserCannotWriteAnotherPatient(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	store := &anyPatientStore{}
	h := guard.Handler(store)
	tok := is.Token(t, smarttest.Scopes("user/Observation.cud user/Observation.r"), smarttest.FHIRUser("Patient/123"))
	for _, tc := range []struct {
		method, target, body string
		want                 int
	}{
		{"POST", "/r4/Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/456"}}`, 403},
		{"PUT", "/r4/Observation/o456", `{"resourceType":"Observation","id":"o456","subject":{"reference":"Patient/123"}}`, 403},
		{"DELETE", "/r4/Observation/o456", "", 403},
		{"DELETE", "/r4/Observation/o123", "", 200},
	} {
		if w := do(t, h, tc.method, tc.target, tok, tc.body); w.Code != tc.want {
			t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.target, w.Code, tc.want, w.Body)
		}
	}
	if len(store.writes) != 1 || store.writes[0] != "DELETE /r4/Observation/o123" {
		t.Errorf("writes reached the store: %v", store.writes)
	}
}

// TestTenantTokenOnlyOnItsBase: with two tenants on one Guard, a token for
// tenant B is refused on tenant A's base, for reads and writes, and an
// issuer's token is never accepted for another issuer's tenant.
func TestTenantTokenOnlyOnItsBase(t *testing.T) {
	const baseA, baseB = "https://fhir.example.org/tenant-a", "https://fhir.example.org/tenant-b"
	isA := smarttest.NewIssuer(t, smarttest.ForAudience(baseA))
	isB := smarttest.NewIssuer(t, smarttest.ForAudience(baseB))
	cfg := isA.Config()
	cfg.Issuer.Audiences = []string{"https://fhir.example.org/shared"}
	cfgB := isB.Config()
	cfg.Issuers = []smartmw.Issuer{{URL: cfgB.Issuer.URL, Audience: baseB, JWKSURL: cfgB.Issuer.JWKSURL}}
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &anyPatientStore{}
	h := guard.Handler(store)
	scopes := smarttest.Scopes("system/*.cruds")
	tokA := isA.Token(t, scopes)
	tokB := isB.Token(t, scopes)
	// Issuer B's token naming tenant A's base beside its own.
	tokBForA := isB.Token(t, scopes, smarttest.AudienceClaim([]string{baseB, baseA}))
	tests := []struct {
		name, method, target, token string
		want                        int
	}{
		{"A on A", "GET", "/tenant-a/Observation/o1", tokA, 200},
		{"B on B", "GET", "/tenant-b/Observation/o1", tokB, 200},
		{"B on A read", "GET", "/tenant-a/Observation/o1", tokB, 401},
		{"B on A delete", "DELETE", "/tenant-a/Observation/o1", tokB, 401},
		{"A on B delete", "DELETE", "/tenant-b/Observation/o1", tokA, 401},
		{"B naming A on A", "DELETE", "/tenant-a/Observation/o1", tokBForA, 401},
		{"A on A's other base without naming it", "GET", "/shared/Observation/o1", tokA, 401},
		{"outside every base", "GET", "/tenant-c/Observation/o1", tokA, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(store.writes)
			w := do(t, h, tc.method, tc.target, tc.token, "")
			if w.Code != tc.want {
				t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.target, w.Code, tc.want, w.Body)
			}
			if tc.want != 200 && len(store.writes) != n {
				t.Errorf("a refused %s reached the store", tc.method)
			}
		})
	}
}

// TestErrorKinds: every refusal matches exactly one exported sentinel, and
// its status and OperationOutcome code follow that sentinel.
func TestErrorKinds(t *testing.T) {
	sentinels := []error{smartmw.ErrMissingToken, smartmw.ErrInvalidRequest, smartmw.ErrInvalidToken,
		smartmw.ErrInsufficientScope, smartmw.ErrNotFound, smartmw.ErrMethodNotAllowed, smartmw.ErrTooLarge,
		smartmw.ErrUncheckedResponse, smartmw.ErrUnavailable, smartmw.ErrMisconfigured}
	is := smarttest.NewIssuer(t)
	cfg := is.Config()
	cfg.Bounds.MaxBodyBytes = 64
	var got error
	cfg.Hooks.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		smartmw.WriteError(w, "fhir", err)
	}
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs patient/Observation.c"), smarttest.Patient("123"))
	xml := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+xml")
		fmt.Fprint(w, `<Observation xmlns="http://hl7.org/fhir"/>`)
	})
	tests := []struct {
		name           string
		h              http.Handler
		method, target string
		token, body    string
		want           error
		status         int
		code           string
	}{
		{"no token", guard.Handler(&anyPatientStore{}), "GET", "/r4/Observation/o123", "", "", smartmw.ErrMissingToken, 401, "login"},
		{"bad token", guard.Handler(&anyPatientStore{}), "GET", "/r4/Observation/o123", "x.y.z", "", smartmw.ErrInvalidToken, 401, "security"},
		{"expired token", guard.Handler(&anyPatientStore{}), "GET", "/r4/Observation/o123", is.Token(t, smarttest.Expired()), "", smartmw.ErrInvalidToken, 401, "expired"},
		{"bad request", guard.Handler(&anyPatientStore{}), "GET", "/r4/Observation/a_b", tok, "", smartmw.ErrInvalidRequest, 400, "invalid"},
		{"insufficient scope", guard.Handler(&anyPatientStore{}), "GET", "/r4/Condition/c1", tok, "", smartmw.ErrInsufficientScope, 403, "forbidden"},
		{"not found", guard.Handler(&anyPatientStore{}), "GET", "/elsewhere/Observation/o1", tok, "", smartmw.ErrNotFound, 404, "not-found"},
		{"method not allowed", guard.Handler(&anyPatientStore{}), "POST", "/r4/Observation/o123/_history", tok, "", smartmw.ErrMethodNotAllowed, 405, "not-supported"},
		{"too large", guard.Handler(&anyPatientStore{}), "POST", "/r4/Observation", tok, strings.Repeat(" ", 65), smartmw.ErrTooLarge, 413, "too-costly"},
		{"unchecked response", guard.Handler(xml), "GET", "/r4/Observation/o123", tok, "", smartmw.ErrUncheckedResponse, 502, "exception"},
		{"misconfigured", guard.Authorize(&anyPatientStore{}), "GET", "/r4/Observation/o123", "", "", smartmw.ErrMisconfigured, 500, "exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			w := do(t, tc.h, tc.method, tc.target, tc.token, tc.body)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			n := 0
			for _, s := range sentinels {
				if errors.Is(got, s) {
					n++
				}
			}
			if !errors.Is(got, tc.want) || n != 1 {
				t.Errorf("err %v matches %d sentinels, want exactly %v", got, n, tc.want)
			}
			var oo struct {
				Issue []struct{ Code string } `json:"issue"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &oo); err != nil || len(oo.Issue) != 1 || oo.Issue[0].Code != tc.code {
				t.Errorf("OperationOutcome %s, want issue code %s", w.Body, tc.code)
			}
		})
	}
}

// TestForbiddenSaysWhatIsWrong: a 403 names no scope the token already
// holds, names the token's scopes that are not SMART scopes, and a token
// without an audience is told so.
func TestForbiddenSaysWhatIsWrong(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	h := guard.Handler(&anyPatientStore{})
	tests := []struct {
		name, target, token string
		status              int
		wantDesc            string
		wantScope           string // "" : no scope= in the challenge
	}{
		{"another patient, scope held", "/r4/Patient/456",
			is.Token(t, smarttest.Scopes("patient/Patient.r"), smarttest.Patient("123")), 403, "patient scopes reach only the patient in context", ""},
		{"miscased scope", "/r4/Observation/o123",
			is.Token(t, smarttest.Scopes("patient/observation.rs"), smarttest.Patient("123")), 403, "'patient/observation.rs' is not a SMART scope", "patient/Observation.r"},
		{"empty aud", "/r4/Observation/o123",
			is.Token(t, smarttest.Scopes("patient/Observation.rs"), smarttest.AudienceClaim([]string{})), 401, "token has no audience", ""},
		{"aud of empty string", "/r4/Observation/o123",
			is.Token(t, smarttest.Scopes("patient/Observation.rs"), smarttest.AudienceClaim("")), 401, "token has no audience", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, h, "GET", tc.target, tc.token, "")
			ch := w.Header().Get("WWW-Authenticate")
			if w.Code != tc.status || !strings.Contains(ch, tc.wantDesc) {
				t.Fatalf("%d %s, want %d with %q", w.Code, ch, tc.status, tc.wantDesc)
			}
			hasScope := strings.Contains(ch, `scope="`)
			if tc.wantScope == "" && hasScope || tc.wantScope != "" && !strings.Contains(ch, `scope="`+tc.wantScope+`"`) {
				t.Errorf("challenge %s, want scope %q", ch, tc.wantScope)
			}
		})
	}
}

// TestNewReportsEveryProblem: New names every problem of a Config in one
// error.
func TestNewReportsEveryProblem(t *testing.T) {
	cfg := smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      "https://auth.example.org",
			Audience: "https://fhir.example.org/r4/",
		},
		Base:   "fhir/",
		Tokens: smartmw.TokenOptions{Algorithms: []string{"RS256", "HS256"}},
		Bounds: smartmw.Bounds{
			MaxBodyBytes:     -1,
			MaxResponseBytes: -1,
			MaxStoredBytes:   -1,
		},
		Cache: smartmw.CacheOptions{
			Size: -1,
			TTL:  -1,
		},
		FHIR: smartmw.FHIROptions{
			NonCompartment: 9,
			Operations: map[string]smartmw.Operation{
				"everything":               {Permission: scope.Read},
				"Observaton/$lastn":        {Permission: scope.Read},
				"Patient/[id]/$everything": {},
			},
		},
		AllowedOrigins: []string{"https://app.example.org/path"},
		Keys:           smartmw.KeyOptions{RefreshInterval: -1, Wait: -1},
		Issuers:        []smartmw.Issuer{{Audience: "https://fhir.example.org/b"}, {URL: "https://as.example.org", Claims: smartmw.ClaimNames{Patient: []string{""}}}},
	}
	cfg.Tokens.Leeway = time.Hour
	_, err := smartmw.New(context.Background(), cfg)
	if err == nil {
		t.Fatal("New accepted the Config")
	}
	for _, want := range []string{
		`audience "https://fhir.example.org/r4/" ends with "/"`,
		`Base "fhir/"`,
		`Tokens.Algorithms: "HS256" needs a Keyfunc`,
		"Tokens.Leeway 1h0m0s is not within 0 and 5m0s",
		"Keys.RefreshInterval -1ns is negative",
		"Keys.Wait -1ns is negative",
		"Bounds.MaxBodyBytes -1 is negative",
		"Bounds.MaxResponseBytes -1 is negative",
		"Bounds.MaxStoredBytes -1 is negative",
		"Cache.Size -1 is negative",
		"Cache.TTL -1ns is negative",
		"FHIR.NonCompartment 9",
		`FHIR.Operations["everything"]`,
		`"Observaton" is not a FHIR R4 resource type`,
		`FHIR.Operations["Patient/[id]/$everything"]: Permission`,
		"Issuers[0].URL is required",
		"Issuers[1].Audience is required",
		"Issuers[1].Claims.Patient has an empty name",
		`AllowedOrigins: "https://app.example.org/path"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

// TestBaseFromAudience: the FHIR API is served under the audience's path
// unless Base says otherwise.
func TestBaseFromAudience(t *testing.T) {
	is := smarttest.NewIssuer(t, smarttest.ForAudience("https://fhir.example.org/r4"))
	tok := is.Token(t, smarttest.Scopes("system/Observation.rs"))
	for _, tc := range []struct {
		base, target string
		want         int
	}{
		{"", "/r4/Observation/o1", 200},
		{"", "/fhir/Observation/o1", 404},
		{"/fhir", "/fhir/Observation/o1", 200},
		{"/fhir", "/r4/Observation/o1", 404},
		{"https://fhir.example.org/r4", "/r4/Observation/o1", 200},
	} {
		guard := newGuard(t, is, func(cfg *smartmw.Config) {
			cfg.Base = tc.base
		})
		if w := do(t, guard.Handler(&anyPatientStore{}), "GET", tc.target, tok, ""); w.Code != tc.want {
			t.Errorf("Base %q, GET %s: %d, want %d", tc.base, tc.target, w.Code, tc.want)
		}
	}
}
