package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is a protected FHIR server under load: its base URL, patients of
// its data with one Observation of each, a code to search by, and the
// tokens for it.
type target struct {
	base     string
	patients []string
	obs      map[string]string // patient → the id of one of its Observations
	code     string            // "system|code" of Observations a user search finds
	tok      *tokens
	client   *http.Client
	creates  atomic.Int64 // POSTs left that may create a resource
}

// response is what a check looks at.
type response struct {
	status int
	header http.Header
	body   []byte
}

// kase is one kind of request of the mix, with the decision expected
// from smartguard: the status and what the answer must hold.
type kase struct {
	name   string
	weight int
	// make returns the request of worker w for patient a (b is another
	// patient) and the check of its answer.
	make func(t *target, a, b string, w int, rng *rand.Rand) (*http.Request, func(*response) error)
}

// cases is the mix: reads, searches and writes with valid, read-only,
// expired, forged, foreign-audience and other patients' tokens, and
// none. The weights make about two requests in three valid.
var cases = []kase{
	{"read own Patient (200)", 10, func(t *target, a, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Patient/"+a, t.tok.valid[a]), all(status(200), resource("Patient", a))
	}},
	{"read own Observation (200)", 10, func(t *target, a, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Observation/"+t.obs[a], t.tok.valid[a]), all(status(200), resource("Observation", t.obs[a]))
	}},
	{"search own Observations (200, only theirs)", 10, func(t *target, a, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Observation?patient="+a, t.tok.valid[a]), all(status(200), onlyPatient(a))
	}},
	{"user/ search by code (200)", 6, func(t *target, _, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Observation?code="+t.code, t.tok.user), all(status(200), bundle())
	}},
	{"user/ read any Patient (200)", 3, func(t *target, _, b string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Patient/"+b, t.tok.user), all(status(200), resource("Patient", b))
	}},
	{"read another patient's Patient (403)", 3, func(t *target, a, b string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Patient/"+b, t.tok.valid[a]), refused(403, "insufficient_scope")
	}},
	{"search another patient's Observations (403)", 3, func(t *target, a, b string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Observation?patient="+b, t.tok.valid[a]), refused(403, "insufficient_scope")
	}},
	{"read another patient's Observation (403, response guard)", 3, func(t *target, a, b string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Observation/"+t.obs[b], t.tok.valid[a]), refused(403, "")
	}},
	{"update own Observation (200/201)", 4, func(t *target, a, _ string, w int, rng *rand.Rand) (*http.Request, func(*response) error) {
		return t.update(a, w, rng)
	}},
	{"create own Observation (201)", 1, func(t *target, a, _ string, w int, rng *rand.Rand) (*http.Request, func(*response) error) {
		if t.creates.Add(-1) < 0 { // the budget is spent: an update instead
			return t.update(a, w, rng)
		}
		return t.send(http.MethodPost, "Observation", t.tok.valid[a], obsBody("", a)), all(status(201), resourceOf("Observation", a))
	}},
	{"create for another patient (403)", 2, func(t *target, a, b string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.send(http.MethodPost, "Observation", t.tok.valid[a], obsBody("", b)), refused(403, "")
	}},
	{"overwrite another patient's Observation (403)", 2, func(t *target, a, b string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.send(http.MethodPut, "Observation/"+t.obs[b], t.tok.valid[a], obsBody(t.obs[b], a)), refused(403, "")
	}},
	{"create with a read-only token (403)", 1, func(t *target, a, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.send(http.MethodPost, "Observation", t.tok.readOnly[a], obsBody("", a)), refused(403, "insufficient_scope")
	}},
	{"expired token (401)", 3, func(t *target, a, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Patient/"+a, t.tok.expired[a]), refused(401, "invalid_token")
	}},
	{"forged token (401)", 3, func(t *target, a, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Observation?patient="+a, t.tok.forged[a]), refused(401, "invalid_token")
	}},
	{"token for another audience (401)", 2, func(t *target, _, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Patient/"+t.patients[0], t.tok.wrongAudience), refused(401, "invalid_token")
	}},
	{"no token (401)", 3, func(t *target, a, _ string, _ int, _ *rand.Rand) (*http.Request, func(*response) error) {
		return t.get("Patient/"+a, ""), refused(401, "")
	}},
}

// update is a PUT of one of worker w's own Observations of patient a:
// each worker writes its own, so that no two updates of one resource race
// (the guard reads the stored version and sends If-Match with it: the
// loser of such a race gets 412, rightly).
func (t *target) update(a string, w int, rng *rand.Rand) (*http.Request, func(*response) error) {
	id := fmt.Sprintf("load-%s-w%d-%d", a, w, rng.IntN(4))
	return t.send(http.MethodPut, "Observation/"+id, t.tok.valid[a], obsBody(id, a)), all(status(200, 201), resource("Observation", id))
}

func obsBody(id, patient string) []byte {
	o := map[string]any{"resourceType": "Observation", "status": "final",
		"code":    map[string]any{"coding": []any{map[string]any{"system": loinc, "code": "2339-0"}}},
		"subject": map[string]any{"reference": "Patient/" + patient}}
	if id != "" {
		o["id"] = id
	}
	return mustJSON(o)
}

func (t *target) get(rel, token string) *http.Request { return t.send(http.MethodGet, rel, token, nil) }

func (t *target) send(method, rel, token string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, t.base+"/"+rel, rd)
	if err != nil {
		panic(err) // the URLs are built here
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/fhir+json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// Checks of an answer.

func all(checks ...func(*response) error) func(*response) error {
	return func(r *response) error {
		for _, c := range checks {
			if err := c(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func status(want ...int) func(*response) error {
	return func(r *response) error {
		if !slices.Contains(want, r.status) {
			return fmt.Errorf("status %d, want %v: %.200s", r.status, want, r.body)
		}
		return nil
	}
}

type fhirResource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Subject      *struct {
		Reference string `json:"reference"`
	} `json:"subject"`
	Entry []struct {
		Resource *fhirResource `json:"resource"`
	} `json:"entry"`
	Issue []struct {
		Code string `json:"code"`
	} `json:"issue"`
}

func decode(r *response) (*fhirResource, error) {
	var res fhirResource
	if err := json.Unmarshal(r.body, &res); err != nil {
		return nil, fmt.Errorf("the body is not JSON: %w: %.200s", err, r.body)
	}
	return &res, nil
}

// resource checks that the answer is the resource typ/id.
func resource(typ, id string) func(*response) error {
	return func(r *response) error {
		res, err := decode(r)
		if err != nil {
			return err
		}
		if res.ResourceType != typ || res.ID != id {
			return fmt.Errorf("got %s/%s, want %s/%s", res.ResourceType, res.ID, typ, id)
		}
		return nil
	}
}

// resourceOf checks that the answer is a resource of type typ about
// patient p.
func resourceOf(typ, p string) func(*response) error {
	return func(r *response) error {
		res, err := decode(r)
		if err != nil {
			return err
		}
		if res.ResourceType != typ || res.Subject == nil || res.Subject.Reference != "Patient/"+p {
			return fmt.Errorf("got a %s not of Patient/%s: %.200s", res.ResourceType, p, r.body)
		}
		return nil
	}
}

func bundle() func(*response) error {
	return func(r *response) error {
		res, err := decode(r)
		if err != nil {
			return err
		}
		if res.ResourceType != "Bundle" {
			return fmt.Errorf("got a %s, want a Bundle", res.ResourceType)
		}
		return nil
	}
}

// onlyPatient checks that the answer is a Bundle with entries, each of
// patient p (or an OperationOutcome entry).
func onlyPatient(p string) func(*response) error {
	return func(r *response) error {
		res, err := decode(r)
		if err != nil {
			return err
		}
		if res.ResourceType != "Bundle" || len(res.Entry) == 0 {
			return fmt.Errorf("want a Bundle with entries: %.200s", r.body)
		}
		for _, e := range res.Entry {
			if e.Resource == nil || e.Resource.ResourceType == "OperationOutcome" {
				continue
			}
			if e.Resource.Subject == nil || e.Resource.Subject.Reference != "Patient/"+p {
				return fmt.Errorf("the Bundle of Patient/%s holds %s/%s of another patient", p, e.Resource.ResourceType, e.Resource.ID)
			}
		}
		return nil
	}
}

// refused checks a refusal: the status, a FHIR OperationOutcome and, for
// 401 and 403, a Bearer challenge with the RFC 6750 error code (none
// when code is "" on a 401: no credentials were sent).
func refused(st int, code string) func(*response) error {
	return func(r *response) error {
		if r.status != st {
			return fmt.Errorf("status %d, want %d: %.200s", r.status, st, r.body)
		}
		res, err := decode(r)
		if err != nil {
			return err
		}
		if res.ResourceType != "OperationOutcome" || len(res.Issue) == 0 {
			return fmt.Errorf("the refusal is not an OperationOutcome: %.200s", r.body)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			return fmt.Errorf("Content-Type %q", ct)
		}
		ch := r.header.Get("WWW-Authenticate")
		switch {
		case st == 401 && !strings.HasPrefix(ch, "Bearer "):
			return fmt.Errorf("401 without a Bearer challenge: %q", ch)
		case st == 401 && code == "" && strings.Contains(ch, "error="):
			return fmt.Errorf("a request without credentials got an error code: %q", ch)
		case code != "" && !strings.Contains(ch, `error="`+code+`"`):
			return fmt.Errorf("challenge %q, want error=%q", ch, code)
		}
		return nil
	}
}

// tally counts the requests of each case and what went wrong.
type tally struct {
	mu       sync.Mutex
	count    []int64
	failed   []int64
	examples []string // the first failures
	errors   int64    // transport errors
}

func newTally() *tally {
	return &tally{count: make([]int64, len(cases)), failed: make([]int64, len(cases))}
}

func (t *tally) add(i int, err error, transport bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count[i]++
	if err == nil {
		return
	}
	t.failed[i]++
	if transport {
		t.errors++
	}
	if len(t.examples) < 10 {
		t.examples = append(t.examples, cases[i].name+": "+err.Error())
	}
}

func (t *tally) total() (n, failed int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.count {
		n += t.count[i]
		failed += t.failed[i]
	}
	return n, failed
}

// report writes the count of each case.
func (t *tally) report(w io.Writer, elapsed time.Duration) {
	n, failed := t.total()
	fmt.Fprintf(w, "  %d requests in %.1f s (%.0f/s), %d wrong answers, %d transport errors\n",
		n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), failed, t.errors)
	for i, c := range cases {
		fmt.Fprintf(w, "    %-58s %8d  wrong %d\n", c.name, t.count[i], t.failed[i])
	}
	for _, e := range t.examples {
		fmt.Fprintf(w, "  WRONG: %s\n", e)
	}
}

// mix sends the weighted mix of cases to t over conns connections until
// ctx is done or max requests were sent, checking every answer.
func mix(ctx context.Context, t *target, conns int, max int64) (*tally, time.Duration) {
	var pick []int
	for i, c := range cases {
		for range c.weight {
			pick = append(pick, i)
		}
	}
	tl := newTally()
	var sent atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for k := 0; ctx.Err() == nil && sent.Add(1) <= max; k++ {
				i := pick[rng.IntN(len(pick))]
				if k == 0 {
					i = w % len(cases) // with conns ≥ len(cases), every case is sent
				}
				ai := rng.IntN(len(t.patients))
				bi := (ai + 1 + rng.IntN(len(t.patients)-1)) % len(t.patients)
				req, check := cases[i].make(t, t.patients[ai], t.patients[bi], w, rng)
				resp, err := do(t.client, req.WithContext(ctx))
				if err != nil {
					if ctx.Err() != nil {
						return // the run ended during the request
					}
					tl.add(i, err, true)
					continue
				}
				tl.add(i, check(resp), false)
			}
		})
	}
	wg.Wait()
	return tl, time.Since(start)
}

// do sends req and reads the whole answer.
func do(c *http.Client, req *http.Request) (*response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// newClient returns a client keeping conns connections to one host.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: 30 * time.Second, DisableCompression: true,
		},
	}
}
