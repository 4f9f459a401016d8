package middleware_test

// The property behind the response guard: under a restricted grant, no
// resource about another patient leaves, however it got into the answer
// (a search match, an include, a history entry, a batch or transaction
// response entry, an operation's output, a resource contained in another,
// a Bundle stored inside a Bundle). A generator builds handler answers
// mixing the resources of several patients; a fake handler returns such an
// answer to whatever is asked, behind the real Guard; and a checker written
// here, with encoding/json alone and nothing of the library, walks
// everything the client gets.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// leakOwn is the patient in context of every grant; p2 and p3 are the
// others.
const leakOwn = "p1"

// leakLab is the code of laboratory Observations, as granular scopes and
// searches name it.
const leakLab = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"

// leakGen builds answers from a seeded source: the same seed, the same
// answer.
type leakGen struct {
	r   *rand.Rand
	seq int
}

func newLeakGen(seed uint64) *leakGen {
	return &leakGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// patientLink is the element that ties each patient-linked type to its
// patient: types of the R4 patient compartment, and Device and Task, which
// reference a patient but are not in the compartment's table. Patient is
// tied by its id; the types absent here are about no patient.
var patientLink = map[string]string{
	"Observation":        "subject",
	"Condition":          "subject",
	"Encounter":          "subject",
	"AllergyIntolerance": "patient",
	"MedicationRequest":  "subject",
	"Composition":        "subject",
	"Device":             "patient",
	"Task":               "for",
}

// leakTypes are drawn with these weights (a type listed twice is drawn
// twice as often).
var leakTypes = []string{
	"Observation", "Observation", "Observation", "Condition", "Encounter", "Patient", "Patient",
	"AllergyIntolerance", "MedicationRequest", "Composition", "Device", "Device", "Task", "Task",
	"Medication", "Organization", "Organization", "Practitioner",
}

func (g *leakGen) pick(n int) int { return g.r.IntN(n) }

// owner draws the patient a resource is about: the own patient half of the
// time.
func (g *leakGen) owner() string {
	switch g.pick(6) {
	case 0, 1, 2:
		return leakOwn
	case 3, 4:
		return "p2"
	}
	return "p3"
}

// patientRef references patient p in one of the forms servers write.
func (g *leakGen) patientRef(p string) map[string]any {
	var s string
	switch g.pick(6) {
	case 0:
		s = smarttest.DefaultAudience + "/Patient/" + p
	case 1:
		s = "Patient/" + p + "/_history/2"
	case 2:
		s = "http://other.example/fhir/Patient/" + p
	default:
		s = "Patient/" + p
	}
	return map[string]any{"reference": s}
}

func (g *leakGen) nextID(typ string) string {
	g.seq++
	return fmt.Sprintf("%s%d", strings.ToLower(typ[:3]), g.seq)
}

func (g *leakGen) category() []any {
	code := "laboratory"
	if g.pick(2) == 0 {
		code = "vital-signs"
	}
	return []any{map[string]any{"coding": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": code}}}}
}

// resource builds a resource of type typ about patient owner ("" for the
// types about no patient). References to a Patient appear only in the
// type's patient-linking element; the other references name no patient.
// A resource that is not itself contained may contain one, about a
// patient of its own.
func (g *leakGen) resource(typ, owner string, contained bool) map[string]any {
	m := map[string]any{"resourceType": typ}
	if typ == "Patient" {
		m["id"] = owner
		m["active"] = true
		m["managingOrganization"] = map[string]any{"reference": "Organization/org1"}
		return m
	}
	m["id"] = g.nextID(typ)
	if contained {
		m["id"] = fmt.Sprintf("c%d", g.pick(3))
	}
	if link := patientLink[typ]; link != "" {
		m[link] = g.patientRef(owner)
	}
	switch typ {
	case "Observation":
		m["status"] = "final"
		m["category"] = g.category()
		m["code"] = map[string]any{"text": "glucose"}
		m["performer"] = []any{map[string]any{"reference": "Practitioner/pr1"}}
		if g.pick(3) == 0 {
			m["hasMember"] = []any{map[string]any{"reference": "Observation/" + g.nextID("Observation")}}
		}
	case "Condition", "AllergyIntolerance":
		m["code"] = map[string]any{"text": "asthma"}
	case "Encounter":
		m["status"] = "finished"
		m["serviceProvider"] = map[string]any{"reference": "Organization/org1"}
	case "MedicationRequest":
		m["status"] = "active"
		m["intent"] = "order"
		m["medicationReference"] = map[string]any{"reference": "Medication/med1"}
	case "Composition":
		m["status"] = "final"
		m["title"] = "discharge summary"
		m["author"] = []any{map[string]any{"reference": "Practitioner/pr1"}}
	case "Device":
		m["owner"] = map[string]any{"reference": "Organization/org1"}
	case "Task":
		m["status"] = "requested"
		m["intent"] = "order"
		m["owner"] = map[string]any{"reference": "Practitioner/pr1"}
	case "Medication":
		m["code"] = map[string]any{"text": "metformin"}
	case "Organization", "Practitioner":
		m["name"] = "St Elsewhere"
		if typ == "Practitioner" {
			m["name"] = []any{map[string]any{"family": "House"}}
		}
	}
	if !contained && g.pick(5) == 0 {
		c := g.anyResource(true)
		m["contained"] = []any{c}
		m["extension"] = []any{map[string]any{"url": "http://example.org/fhir/StructureDefinition/source",
			"valueReference": map[string]any{"reference": "#" + c["id"].(string)}}}
	}
	return m
}

// anyResource draws a type and its patient. Contained resources are never
// Patients (a contained Patient's id is local, not a patient's).
func (g *leakGen) anyResource(contained bool) map[string]any {
	typ := leakTypes[g.pick(len(leakTypes))]
	if contained && typ == "Patient" {
		typ = "Observation"
	}
	owner := ""
	if typ == "Patient" || patientLink[typ] != "" {
		owner = g.owner()
	}
	return g.resource(typ, owner, contained)
}

// entryResource is what a Bundle entry or an operation's output holds:
// mostly a plain resource, sometimes a Bundle stored whole, a Parameters or
// an OperationOutcome that contains a resource.
func (g *leakGen) entryResource(depth int) map[string]any {
	n := g.pick(14)
	switch {
	case n == 0 && depth < 2:
		return g.storedBundle(depth + 1)
	case n == 1 && depth < 2:
		return g.parameters(depth + 1)
	case n == 2:
		return g.outcome()
	}
	return g.anyResource(false)
}

func fullURL(res map[string]any) string {
	id, _ := res["id"].(string)
	return smarttest.DefaultAudience + "/" + res["resourceType"].(string) + "/" + id
}

func (g *leakGen) searchset(depth int) map[string]any {
	var entries []any
	matches := 0
	for range g.pick(6) + 1 {
		res := g.entryResource(depth)
		mode := "match"
		if g.pick(3) == 0 {
			mode = "include"
		} else {
			matches++
		}
		entries = append(entries, map[string]any{"fullUrl": fullURL(res), "resource": res, "search": map[string]any{"mode": mode}})
	}
	return map[string]any{"resourceType": "Bundle", "type": "searchset", "total": matches, "entry": entries}
}

func (g *leakGen) history() map[string]any {
	var entries []any
	for range g.pick(5) + 1 {
		res := g.anyResource(false)
		path := res["resourceType"].(string) + "/" + res["id"].(string)
		if g.pick(5) == 0 && res["resourceType"] != "Patient" {
			entries = append(entries, map[string]any{
				"request":  map[string]any{"method": "DELETE", "url": path},
				"response": map[string]any{"status": "204 No Content"}})
			continue
		}
		entries = append(entries, map[string]any{"fullUrl": fullURL(res), "resource": res,
			"request":  map[string]any{"method": "PUT", "url": path},
			"response": map[string]any{"status": "200 OK", "etag": `W/"2"`}})
	}
	return map[string]any{"resourceType": "Bundle", "type": "history", "entry": entries}
}

// batchResponse answers a batch or transaction: resources read, search
// Bundles of search entries, entries without a resource.
func (g *leakGen) batchResponse(typ string, depth int) map[string]any {
	var entries []any
	for range g.pick(4) + 1 {
		switch g.pick(6) {
		case 0:
			entries = append(entries, map[string]any{"response": map[string]any{"status": "404 Not Found",
				"outcome": map[string]any{"resourceType": "OperationOutcome",
					"issue": []any{map[string]any{"severity": "error", "code": "not-found"}}}}})
		case 1:
			entries = append(entries, map[string]any{"resource": g.searchset(depth + 1),
				"response": map[string]any{"status": "200 OK"}})
		default:
			entries = append(entries, map[string]any{"resource": g.entryResource(depth),
				"response": map[string]any{"status": "200 OK", "etag": `W/"1"`}})
		}
	}
	return map[string]any{"resourceType": "Bundle", "type": typ, "entry": entries}
}

// storedBundle is a document (a Composition first) or a collection, as a
// server stores and returns it whole.
func (g *leakGen) storedBundle(depth int) map[string]any {
	typ := "collection"
	var entries []any
	if g.pick(2) == 0 {
		typ = "document"
		c := g.resource("Composition", g.owner(), false)
		entries = append(entries, map[string]any{"fullUrl": fullURL(c), "resource": c})
	}
	for range g.pick(3) + 1 {
		res := g.entryResource(depth)
		entries = append(entries, map[string]any{"fullUrl": fullURL(res), "resource": res})
	}
	return map[string]any{"resourceType": "Bundle", "id": g.nextID("Bundle"), "type": typ, "entry": entries}
}

// parameters is an operation's output: resources in parameter[].resource
// and in parameter[].part[].resource.
func (g *leakGen) parameters(depth int) map[string]any {
	params := []any{map[string]any{"name": "return", "resource": g.entryResource(depth)}}
	if g.pick(2) == 0 {
		params = append(params, map[string]any{"name": "result", "part": []any{
			map[string]any{"name": "count", "valueInteger": 1},
			map[string]any{"name": "item", "resource": g.entryResource(depth)}}})
	}
	return map[string]any{"resourceType": "Parameters", "parameter": params}
}

// outcome is an OperationOutcome that may contain a resource (some servers
// put the resource an issue is about there).
func (g *leakGen) outcome() map[string]any {
	m := map[string]any{"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{"severity": "information", "code": "informational"}}}
	if g.pick(2) == 0 {
		m["contained"] = []any{g.anyResource(true)}
	}
	return m
}

// answer draws a whole answer of a handler.
func (g *leakGen) answer() map[string]any {
	switch g.pick(10) {
	case 0, 1, 2:
		return g.searchset(0)
	case 3:
		return g.history()
	case 4:
		return g.batchResponse("batch-response", 0)
	case 5:
		return g.batchResponse("transaction-response", 0)
	case 6:
		return g.parameters(0)
	case 7:
		return g.storedBundle(0)
	case 8:
		return g.outcome()
	}
	return g.anyResource(false)
}

// leakRequest is a request the property is checked for. A bundle request
// is a batch or transaction of GET entries; "form" sends a form body
// (POST _search).
type leakRequest struct {
	name, method, target, bundle string
}

var leakRequests = []leakRequest{
	{"search Observation", "GET", "/r4/Observation?patient=p1", ""},
	{"search Observation narrowed", "GET", "/r4/Observation?code=x", ""},
	{"search Observation narrowed, _elements", "GET", "/r4/Observation?_elements=code", ""},
	{"search Observation, _summary=text", "GET", "/r4/Observation?patient=p1&_summary=text", ""},
	{"search Patient narrowed", "GET", "/r4/Patient?name=x", ""},
	{"search Condition narrowed, POST", "POST", "/r4/Condition/_search", "form"},
	{"search Observation with includes", "GET", "/r4/Observation?patient=p1&_include=Observation:has-member&_revinclude=Provenance:target", ""},
	{"search lab Observations", "GET", "/r4/Observation?patient=p1&category=" + strings.ReplaceAll(leakLab, "|", "%7C"), ""},
	{"Organization revinclude Patient", "GET", "/r4/Organization?_revinclude=Patient:organization", ""},
	{"Patient $everything", "GET", "/r4/Patient/p1/$everything", ""},
	{"Observation instance history", "GET", "/r4/Observation/o1/_history", ""},
	{"read own Patient", "GET", "/r4/Patient/p1", ""},
	{"read Observation", "GET", "/r4/Observation/o1", ""},
	{"search Device", "GET", "/r4/Device?patient=p1", ""},
	{"search Task", "GET", "/r4/Task?patient=p1", ""},
	{"search Medication", "GET", "/r4/Medication?code=x", ""},
	{"read Bundle", "GET", "/r4/Bundle/b1", ""},
	{"batch of GETs", "POST", "/r4", "batch"},
	{"transaction of GETs", "POST", "/r4", "transaction"},
}

// leakBundleURLs are the GET entries of the bundle requests, cycled.
var leakBundleURLs = []string{
	"Observation?patient=p1", "Patient/p1", "Organization/org1", "Observation/o1", "Observation?code=x",
	"Device?patient=p1", "Organization?_revinclude=Patient:organization", "Patient/p1/$everything",
}

// leakGrant is a token's scopes and launch context, all for patient p1.
type leakGrant struct {
	name, scopes string
	portal       bool // user/ scopes of a Patient fhirUser, no patient claim
}

var leakGrants = []leakGrant{
	{"patient/*.rs", "launch/patient patient/*.rs", false},
	{"Observation and Organization", "launch/patient patient/Observation.rs patient/Organization.rs", false},
	{"Organization and own Patient", "launch/patient patient/Organization.rs patient/Patient.r", false},
	{"granular lab Observations", "launch/patient patient/Observation.rs?category=" + leakLab, false},
	{"Device, Task, Medication, Observation", "launch/patient patient/Device.rs patient/Task.rs patient/Medication.rs patient/Observation.rs", false},
	{"Bundle and Composition", "launch/patient patient/Bundle.rs patient/Composition.rs patient/Patient.rs", false},
	{"v1 patient/*.read", "launch/patient patient/*.read", false},
	{"patient-portal user/*.rs", "openid fhirUser user/*.rs", true},
}

// leakConfigs are the Guards the property is checked behind: the defaults
// (includes on, searches narrowed), and the lenient choice for types
// outside the compartment with searches refused rather than narrowed.
var leakConfigs = []struct {
	name   string
	adjust func(*smartmw.Config)
}{
	{"includes", func(c *smartmw.Config) {}},
	{"includes, NonCompartmentWildcard, RefuseBroadSearches", func(c *smartmw.Config) {
		c.FHIR.NonCompartment = smartmw.NonCompartmentWildcard
		c.FHIR.RefuseBroadSearches = true
	}},
}

type leakAnswerKey struct{}

// leakHandler answers every request 200 with the answer on the request's
// context. To a batch or transaction it answers with as many entries as
// the forwarded bundle has, when its answer is a batch or transaction
// response.
func leakHandler(w http.ResponseWriter, r *http.Request) {
	ans, _ := r.Context().Value(leakAnswerKey{}).(map[string]any)
	if r.Method == http.MethodPost && ans["resourceType"] == "Bundle" &&
		(ans["type"] == "batch-response" || ans["type"] == "transaction-response") {
		var req struct {
			Entry []json.RawMessage `json:"entry"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &req) == nil {
			entries, _ := ans["entry"].([]any)
			if len(entries) > 0 {
				resized := make([]any, len(req.Entry))
				for i := range resized {
					resized[i] = entries[i%len(entries)]
				}
				ans = map[string]any{"resourceType": "Bundle", "type": ans["type"], "entry": resized}
			}
		}
	}
	b, err := json.Marshal(ans)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// leakFinding is a resource the client got that is about another patient.
type leakFinding struct {
	path     string // where it lies, without indices: Bundle(searchset).entry[].resource(Patient)
	patient  string
	resource string // the resource, for the report
}

// otherPatients decodes body fully and returns every resource in it that
// is about a patient other than own: a Patient whose id is not own, any
// other resource with a string under a key named "reference" (at any depth)
// that names Patient/X, .../Patient/X or Patient/X/_history/v. A resource
// is reported where it lies, not again in each resource around it; an
// entry whose fullUrl names another Patient is reported too.
func otherPatients(body []byte, own string) ([]leakFinding, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	var out []leakFinding
	walkLeaks(v, "", own, &out)
	return out, nil
}

// referencedPatient returns X when s references Patient/X, else "".
func referencedPatient(s string) string {
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	seg := strings.Split(s, "/")
	if n := len(seg); n >= 2 && seg[n-2] == "Patient" && seg[n-1] != "" {
		return seg[n-1]
	}
	return ""
}

// walkLeaks returns the patients referenced under v, and those already
// accounted for by the resources under v.
func walkLeaks(v any, path, own string, out *[]leakFinding) (refs, accounted map[string]bool) {
	refs, accounted = map[string]bool{}, map[string]bool{}
	merge := func(r, a map[string]bool) {
		for p := range r {
			refs[p] = true
		}
		for p := range a {
			accounted[p] = true
		}
	}
	switch x := v.(type) {
	case []any:
		for _, c := range x {
			merge(walkLeaks(c, path+"[]", own, out))
		}
	case map[string]any:
		typ, isResource := x["resourceType"].(string)
		here := path
		if isResource {
			here += "(" + typ
			if bt, ok := x["type"].(string); ok && typ == "Bundle" {
				here += ":" + bt
			}
			here += ")"
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if s, ok := x[k].(string); ok && k == "reference" {
				if p := referencedPatient(s); p != "" {
					refs[p] = true
				}
			}
			merge(walkLeaks(x[k], here+"."+k, own, out))
		}
		report := func(about map[string]bool, what string) {
			for _, p := range slices.Sorted(maps.Keys(about)) {
				if p != own && !accounted[p] {
					b, _ := json.Marshal(x)
					*out = append(*out, leakFinding{path: here + what, patient: p, resource: string(b)})
				}
				accounted[p] = true
			}
		}
		switch {
		case isResource && typ == "Patient":
			id, _ := x["id"].(string)
			report(map[string]bool{id: true}, "")
		case isResource:
			report(refs, "")
		default:
			if u, ok := x["fullUrl"].(string); ok {
				if p := referencedPatient(u); p != "" {
					report(map[string]bool{p: true}, ".fullUrl")
				}
			}
		}
	}
	return refs, accounted
}

// leakHarness is the Guards and tokens the property is checked with.
type leakHarness struct {
	handlers []http.Handler // one per leakConfigs entry
	tokens   []string       // one per leakGrants entry
}

func newLeakHarness(t testing.TB) *leakHarness {
	is := smarttest.NewIssuer(t)
	h := &leakHarness{}
	for _, c := range leakConfigs {
		cfg := is.Config()
		c.adjust(&cfg)
		guard, err := smartmw.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		h.handlers = append(h.handlers, guard.Handler(http.HandlerFunc(leakHandler)))
	}
	for _, g := range leakGrants {
		opts := []smarttest.TokenOption{smarttest.Scopes(g.scopes)}
		if g.portal {
			opts = append(opts, smarttest.FHIRUser("Patient/"+leakOwn))
		} else {
			opts = append(opts, smarttest.Patient(leakOwn))
		}
		h.tokens = append(h.tokens, is.Token(t, opts...))
	}
	return h
}

// leakOutcome is what one request got, as the property sees it.
type leakOutcome struct {
	status   int
	body     string
	findings []leakFinding
	problem  string // a panic, or a body that is not JSON
}

// serve sends req with grant g behind config c, the handler answering ans.
func (h *leakHarness) serve(c, g int, req leakRequest, ans map[string]any) (out leakOutcome) {
	var body io.Reader
	form := req.bundle == "form"
	if form {
		body = strings.NewReader("code=x&_elements=code")
	} else if req.bundle != "" {
		var entries []any
		n := 1
		if e, ok := ans["entry"].([]any); ok && len(e) > 0 {
			n = len(e)
		}
		for i := range n {
			entries = append(entries, map[string]any{"request": map[string]any{"method": "GET", "url": leakBundleURLs[i%len(leakBundleURLs)]}})
		}
		b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": req.bundle, "entry": entries})
		body = bytes.NewReader(b)
	}
	r := httptest.NewRequest(req.method, req.target, body)
	switch {
	case form:
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case body != nil:
		r.Header.Set("Content-Type", "application/fhir+json")
	}
	r.Header.Set("Authorization", "Bearer "+h.tokens[g])
	r = r.WithContext(context.WithValue(r.Context(), leakAnswerKey{}, ans))
	w := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			out.problem = fmt.Sprintf("panic: %v", p)
		}
	}()
	h.handlers[c].ServeHTTP(w, r)
	out.status, out.body = w.Code, w.Body.String()
	if w.Body.Len() == 0 {
		if w.Code == http.StatusOK {
			out.problem = "200 without a body"
		}
		return out
	}
	f, err := otherPatients(w.Body.Bytes(), leakOwn)
	if err != nil {
		out.problem = fmt.Sprintf("body is not JSON (%v)", err)
		return out
	}
	out.findings = f
	return out
}

func (o leakOutcome) failed() bool { return o.problem != "" || len(o.findings) > 0 }

// leakClass names a resource type by what it is to the property, so that
// findings group by the route the resource took, not by its type.
func leakClass(typ string) string {
	switch {
	case typ == "Patient":
		return "Patient"
	case typ == "Device" || typ == "Task":
		return "Device|Task"
	case patientLink[typ] != "":
		return "compartment type"
	case typ == "Bundle" || strings.HasPrefix(typ, "Bundle:") || typ == "Parameters" || typ == "OperationOutcome":
		return typ
	}
	return "no-patient type"
}

// leakHop is the last step of a finding's path: what held the resource
// and the class of the resource ("Bundle:searchset.entry[].resource →
// Patient", "Observation.contained[] → Device|Task", "answer → Patient").
func leakHop(path string) string {
	leaf, rest := "fullUrl", strings.TrimSuffix(path, ".fullUrl")
	if rest == path {
		i := strings.LastIndexByte(path, '(')
		leaf, rest = leakClass(path[i+1:len(path)-1]), path[:i]
	}
	i := strings.LastIndexByte(rest, '(')
	if i < 0 {
		return "answer → " + leaf
	}
	j := i + strings.IndexByte(rest[i:], ')')
	return leakClass(rest[i+1:j]) + rest[j+1:] + " → " + leaf
}

// TestNoOtherPatientLeaves checks the property on a fixed list of seeds:
// each seed's answer is served to every request, under every grant,
// behind every Guard. Failures are reported once per grant, request and
// Guard, with the last step of the route each leaked resource took (how
// many times) and one example with its whole path.
func TestNoOtherPatientLeaves(t *testing.T) {
	h := newLeakHarness(t)
	const seeds = 120
	type group struct {
		routes   map[string]int
		statuses map[int]bool
		example  string
	}
	groups := map[string]*group{}
	cases, failed := 0, 0
	for seed := uint64(1); seed <= seeds; seed++ {
		ans := newLeakGen(seed).answer()
		for c := range leakConfigs {
			for g := range leakGrants {
				for _, req := range leakRequests {
					cases++
					out := h.serve(c, g, req, ans)
					if !out.failed() {
						continue
					}
					failed++
					key := fmt.Sprintf("grant %q, %s %s (%s), Guard %q", leakGrants[g].name, req.method, req.target, req.name, leakConfigs[c].name)
					gr := groups[key]
					if gr == nil {
						ex := out.problem
						if ex == "" {
							ex = fmt.Sprintf("Patient/%s at %s: %s", out.findings[0].patient, out.findings[0].path, out.findings[0].resource)
						}
						gr = &group{routes: map[string]int{}, statuses: map[int]bool{}, example: fmt.Sprintf("seed %d: %s", seed, ex)}
						groups[key] = gr
					}
					gr.statuses[out.status] = true
					if out.problem != "" {
						gr.routes[out.problem]++
					}
					for _, f := range out.findings {
						gr.routes[leakHop(f.path)]++
					}
				}
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		gr := groups[key]
		var routes []string
		for _, r := range slices.Sorted(maps.Keys(gr.routes)) {
			routes = append(routes, fmt.Sprintf("%s ×%d", r, gr.routes[r]))
		}
		t.Errorf("%s: status %v let out: %s\n\te.g. %s", key, slices.Sorted(maps.Keys(gr.statuses)), strings.Join(routes, "; "), gr.example)
	}
	if failed > 0 {
		t.Logf("%d of %d requests let another patient's data out or misbehaved", failed, cases)
	}
}

// FuzzNoOtherPatientLeaves is the property for the fuzzer: a seed for the
// answer, and which grant, request and Guard. Its seed corpus runs with
// the tests: the shapes of the attacks found so far.
func FuzzNoOtherPatientLeaves(f *testing.F) {
	idx := func(list []leakRequest, name string) uint8 {
		return uint8(slices.IndexFunc(list, func(r leakRequest) bool { return r.name == name }))
	}
	gidx := func(name string) uint8 {
		return uint8(slices.IndexFunc(leakGrants, func(g leakGrant) bool { return g.name == name }))
	}
	// Seeds whose answer, for that grant, request and Guard, holds
	// another patient's resource where the guard of today lets it out.
	for _, c := range []struct {
		seed           uint64
		grant, request string
		guard          uint8
	}{
		{18, "Organization and own Patient", "Organization revinclude Patient", 0}, // other Patients revincluded
		{52, "Organization and own Patient", "Organization revinclude Patient", 0}, // an Organization containing another patient's Observation
		{83, "Observation and Organization", "Organization revinclude Patient", 0}, // another patient's Observation as an entry
		{36, "patient/*.rs", "Patient $everything", 0},                             // contained in a history entry's resource
		{106, "Observation and Organization", "search Observation", 0},             // an OperationOutcome containing a Task
		{257, "granular lab Observations", "read Observation", 0},                  // contained in a lab Observation of a searchset
		{336, "patient/*.rs", "read own Patient", 0},                               // an OperationOutcome containing an Encounter
		{1, "patient/*.rs", "batch of GETs", 0},                                    // an OperationOutcome in a batch-response entry, containing
		{6, "patient/*.rs", "transaction of GETs", 1},                              // likewise in a transaction-response
		{1, "Device, Task, Medication, Observation", "search Device", 0},           // Device is outside the compartment table: nothing checked
		{3, "Device, Task, Medication, Observation", "search Task", 0},             // Task likewise
		{1, "patient/*.rs", "search Medication", 1},                                // a type about no patient: nothing checked
		{6, "Bundle and Composition", "read Bundle", 0},                            // a Bundle read: its entries unchecked
		{1, "patient-portal user/*.rs", "search Medication", 0},                    // a patient's user/ scopes, likewise
	} {
		f.Add(c.seed, gidx(c.grant), idx(leakRequests, c.request), c.guard)
	}
	h := newLeakHarness(f)
	f.Fuzz(func(t *testing.T, seed uint64, g, req, c uint8) {
		gi, ri, ci := int(g)%len(leakGrants), int(req)%len(leakRequests), int(c)%len(leakConfigs)
		ans := newLeakGen(seed).answer()
		out := h.serve(ci, gi, leakRequests[ri], ans)
		if out.problem != "" {
			t.Fatalf("grant %q, %s: %s: %s", leakGrants[gi].name, leakRequests[ri].name, out.problem, out.body)
		}
		for _, f := range out.findings {
			t.Errorf("grant %q, %s %s, Guard %q: %d, Patient/%s left in %s: %s",
				leakGrants[gi].name, leakRequests[ri].method, leakRequests[ri].target, leakConfigs[ci].name, out.status, f.patient, f.path, f.resource)
		}
	})
}

// TestLeakCheckerFindsWhatItShould checks the checker itself on answers
// whose leaks are known, so that a silent checker cannot pass the property.
func TestLeakCheckerFindsWhatItShould(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // "path patient"
	}{
		{"own only", `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/p1"}}},{"resource":{"resourceType":"Patient","id":"p1"}}]}`, nil},
		{"no patient", `{"resourceType":"Organization","id":"org1","partOf":{"reference":"Organization/x"}}`, nil},
		{"other Patient included", `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"p2"}}]}`,
			[]string{"(Bundle:searchset).entry[].resource(Patient) p2"}},
		{"absolute reference with history", `{"resourceType":"Device","patient":{"reference":"https://x.example/r4/Patient/p2/_history/4"}}`,
			[]string{"(Device) p2"}},
		{"contained in an own resource", `{"resourceType":"Observation","subject":{"reference":"Patient/p1"},"contained":[{"resourceType":"Condition","id":"c0","subject":{"reference":"Patient/p3"}}]}`,
			[]string{"(Observation).contained[](Condition) p3"}},
		{"deep in a Parameters part", `{"resourceType":"Parameters","parameter":[{"name":"x","part":[{"name":"y","resource":{"resourceType":"Bundle","type":"document","entry":[{"resource":{"resourceType":"Task","for":{"reference":"Patient/p2"}}}]}}]}]}`,
			[]string{"(Parameters).parameter[].part[].resource(Bundle:document).entry[].resource(Task) p2"}},
		{"fullUrl kept without its resource", `{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":"https://x/Patient/p2"}]}`,
			[]string{"(Bundle:searchset).entry[].fullUrl p2"}},
		{"reference-like text elsewhere", `{"resourceType":"Observation","subject":{"reference":"Patient/p1"},"note":[{"text":"Patient/p2"}],"identifier":[{"value":"Patient/p3"}]}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := otherPatients([]byte(tc.body), leakOwn)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range f {
				got = append(got, x.path+" "+x.patient)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := otherPatients([]byte(`{"resourceType":"Patient","id":"p1"} {}`), leakOwn); err == nil {
		t.Error("trailing data accepted")
	}
}
