package fhirstore

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// The store's FHIR Bulk Data Access 2.0 export, behind smartguard's
// FHIR.Export: $export at system, Patient and Group level (GET, or POST
// with a Parameters body), a job per kick-off run in the background with
// X-Progress while it runs, a manifest of NDJSON files, cancel (DELETE),
// and jobs forgotten JobTTL after they finished.
//
// The store trusts the Guard for who may do what: it runs the kick-off
// with the parameters the Guard checked (the types the token allows in
// _type, its granular scopes as _typeFilter), and it serves its job URLs
// ([base]/bulk/<job>, [base]/bulk/<job>/<n>.ndjson) only to the Guard's
// forwards (smartmw.IsExportForward), which the Guard makes after it
// checked that the caller is the job's client. A client never sees those
// URLs: it gets the Guard's own.

// Export settings of the demo.
const (
	// JobTTL is how long a finished job's manifest and files are kept.
	JobTTL = time.Hour
	// maxJobsPerClient bounds the jobs of one client in progress at
	// once; another kick-off is answered 429.
	maxJobsPerClient = 3
)

// CohortGroup is the id of the sample Group for Group-level export: the
// patients attributed to the demo's backend client (Amy Shaw only).
const CohortGroup = "bulk-cohort"

// cohort is the sample Group.
func cohort() json.RawMessage {
	return json.RawMessage(`{"resourceType":"Group","id":"` + CohortGroup + `","type":"person","actual":true,` +
		`"name":"Patients attributed to the demo's backend client","member":[{"entity":{"reference":"Patient/example"}}]}`)
}

// bulkJobs are a store's export jobs.
type bulkJobs struct {
	mu    sync.Mutex
	jobs  map[string]*bulkJob
	delay time.Duration // how long a job takes, at least; default 1 s
}

// bulkJob is one export.
type bulkJob struct {
	id, client string
	request    string // the kick-off URL
	started    time.Time
	done       time.Time // zero while it runs
	progress   int       // percent
	cancelled  bool
	files      []bulkFile
	txTime     time.Time
}

// bulkFile is one NDJSON file of a job's manifest.
type bulkFile struct {
	typ   string
	count int
	body  []byte
}

// exportRequest is a kick-off, as the store runs it.
type exportRequest struct {
	level    string // "", "Patient", "Group"
	group    string
	types    []string
	since    time.Time
	filters  map[string][]*smartmw.Search // ORed per type
	patients []string
}

// serveExport answers the Bulk Data requests: a kick-off the Guard
// decided, or a forward of the Guard to a job URL. It reports false for
// any other request.
func (s *Store) serveExport(w http.ResponseWriter, r *http.Request, d *smartctx.Decision) bool {
	req := d.Request()
	switch {
	case smartmw.IsExportForward(r):
		s.serveJob(w, r)
		return true
	case req.Interaction == scope.InteractionOperation && req.Operation == "$export":
		res, loc, err := s.kickoff(r, d)
		var busy *tooMany
		switch {
		case errors.As(err, &busy):
			w.Header().Set("Retry-After", "5")
			res = result{status: http.StatusTooManyRequests, body: outcomeJSON("error", "transient", err.Error())}
		case err != nil:
			res = failed(err)
		default:
			w.Header().Set("Content-Location", loc)
		}
		writeResult(w, res)
		return true
	}
	return false
}

// kickoff reads the kick-off's parameters and starts a job: its answer,
// and the job's status URL.
func (s *Store) kickoff(r *http.Request, d *smartctx.Decision) (result, string, error) {
	req := d.Request()
	x := exportRequest{level: req.Type, group: req.ID, filters: map[string][]*smartmw.Search{}}
	params, err := exportParams(r, req.Query)
	if err != nil {
		return result{}, "", err
	}
	for _, p := range params {
		if err := s.exportParam(&x, p[0], p[1]); err != nil {
			return result{}, "", err
		}
	}
	s.mu.RLock()
	if x.level == "Group" {
		members, err := s.groupMembersL(x.group)
		if err != nil {
			s.mu.RUnlock()
			return result{}, "", err
		}
		x.patients = intersect(x.patients, members)
	}
	s.mu.RUnlock()
	client := ""
	if g, ok := smartctx.FromContext(r.Context()); ok {
		client = g.ClientID()
	}
	job, err := s.bulk.start(client, s.url(strings.TrimPrefix(r.URL.RequestURI(), s.path()+"/")))
	if err != nil {
		return result{}, "", err
	}
	go s.runExport(job, x)
	return result{status: http.StatusAccepted, body: outcomeJSON("information", "informational", "export started")}, s.url("bulk/" + job.id), nil
}

// path is the path of the store's base.
func (s *Store) path() string {
	u, _ := url.Parse(s.base)
	return u.Path
}

// exportParams returns the kick-off's parameters as name, value pairs:
// from the query of a GET, from the Parameters body of a POST.
func exportParams(r *http.Request, query string) ([][2]string, error) {
	var out [][2]string
	if r.Method != http.MethodPost {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return nil, fail(http.StatusBadRequest, "invalid", "malformed query")
		}
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range vals {
				if !yield(k) {
					return
				}
			}
		}) {
			for _, v := range vals[name] {
				out = append(out, [2]string{name, v})
			}
		}
		return out, nil
	}
	var p struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name           string `json:"name"`
			ValueString    string `json:"valueString"`
			ValueInstant   string `json:"valueInstant"`
			ValueReference struct {
				Reference string `json:"reference"`
			} `json:"valueReference"`
		} `json:"parameter"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody)).Decode(&p); err != nil || p.ResourceType != "Parameters" {
		return nil, fail(http.StatusBadRequest, "invalid", "a POST kick-off needs a Parameters body")
	}
	for _, prm := range p.Parameter {
		v := prm.ValueString + prm.ValueInstant + prm.ValueReference.Reference
		out = append(out, [2]string{prm.Name, v})
	}
	return out, nil
}

// exportParam applies one kick-off parameter.
func (s *Store) exportParam(x *exportRequest, name, value string) error {
	switch name {
	case "_type":
		for _, t := range strings.Split(value, ",") {
			if !scope.IsR4Type(t) {
				return fail(http.StatusBadRequest, "not-supported", "_type: %q is not a resource type", t)
			}
			x.types = append(x.types, t)
		}
	case "_since":
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return fail(http.StatusBadRequest, "invalid", "_since is not an instant")
		}
		x.since = t
	case "_typeFilter":
		typ, q, ok := strings.Cut(value, "?")
		if !ok {
			return fail(http.StatusBadRequest, "invalid", "_typeFilter must be Type?search")
		}
		sq, err := smartmw.ParseSearch(typ, q, s.base)
		if err != nil {
			return fail(http.StatusBadRequest, "not-supported", "_typeFilter %s cannot be evaluated: %v", typ, err)
		}
		x.filters[typ] = append(x.filters[typ], sq)
	case "patient":
		id, ok := strings.CutPrefix(value, "Patient/")
		if !ok || !smartctx.ValidID(id) {
			return fail(http.StatusBadRequest, "invalid", "patient must reference Patient/<id>")
		}
		x.patients = append(x.patients, id)
	case "_outputFormat":
	case "_elements", "includeAssociatedData":
		return fail(http.StatusBadRequest, "not-supported", "the demo server does not support %s", name)
	default:
		return fail(http.StatusBadRequest, "not-supported", "unknown parameter %s", name)
	}
	return nil
}

// groupMembersL returns the patient ids of Group/id.
func (s *Store) groupMembersL(id string) ([]string, error) {
	r := s.st.res["Group"][id]
	if !r.live() {
		return nil, fail(http.StatusNotFound, "not-found", "Group/%s is not known", id)
	}
	var g struct {
		Member []struct {
			Entity struct {
				Reference string `json:"reference"`
			} `json:"entity"`
		} `json:"member"`
	}
	if err := json.Unmarshal(r.current().body, &g); err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range g.Member {
		if id, ok := strings.CutPrefix(m.Entity.Reference, "Patient/"); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// intersect returns the members, limited to the patients asked for when
// some were.
func intersect(asked, members []string) []string {
	if asked == nil {
		return members
	}
	var out []string
	for _, id := range asked {
		if slices.Contains(members, id) {
			out = append(out, id)
		}
	}
	if out == nil {
		out = []string{} // none of the members: nothing
	}
	return out
}

// start registers a new job of client, or refuses one past
// maxJobsPerClient in progress (429).
func (b *bulkJobs) start(client, request string) (*bulkJob, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweepL()
	running := 0
	for _, j := range b.jobs {
		if j.client == client && j.done.IsZero() {
			running++
		}
	}
	if running >= maxJobsPerClient {
		return nil, &tooMany{}
	}
	if b.jobs == nil {
		b.jobs = map[string]*bulkJob{}
	}
	j := &bulkJob{id: strings.ToLower(rand.Text()), client: client, request: request, started: time.Now()}
	b.jobs[j.id] = j
	return j, nil
}

// tooMany is the refusal of a kick-off past maxJobsPerClient.
type tooMany struct{}

func (*tooMany) Error() string { return "too many exports in progress" }

// sweepL forgets the jobs finished more than JobTTL ago.
func (b *bulkJobs) sweepL() {
	for id, j := range b.jobs {
		if !j.done.IsZero() && time.Since(j.done) > JobTTL {
			delete(b.jobs, id)
		}
	}
}

// runExport runs job x: it reads what the export holds and writes one
// NDJSON file per type, taking at least the store's delay, with progress.
func (s *Store) runExport(job *bulkJob, x exportRequest) {
	delay := s.bulk.delay
	if delay == 0 {
		delay = time.Second
	}
	for p := 25; p < 100; p += 25 {
		time.Sleep(delay / 4)
		s.bulk.mu.Lock()
		job.progress = p
		cancelled := job.cancelled
		s.bulk.mu.Unlock()
		if cancelled {
			return
		}
	}
	s.mu.RLock()
	files := s.exportFilesL(x)
	tx := s.now()
	s.mu.RUnlock()
	s.bulk.mu.Lock()
	defer s.bulk.mu.Unlock()
	job.files, job.txTime, job.done, job.progress = files, tx, time.Now(), 100
}

// exportFilesL returns the NDJSON files of export x, one per type that
// has resources.
func (s *Store) exportFilesL(x exportRequest) []bulkFile {
	types := x.types
	if types == nil {
		types = s.typesL()
	}
	var files []bulkFile
	for _, typ := range types {
		f := bulkFile{typ: typ}
		for _, r := range s.recordsL(typ) {
			v := r.current()
			body := v.body
			if !x.since.IsZero() && !v.at.After(x.since) {
				continue
			}
			if x.level != "" && !s.inPatients(typ, body, x.patients) {
				continue
			}
			if fs := x.filters[typ]; len(fs) > 0 && !anyMatch(fs, body) {
				continue
			}
			f.body = append(f.body, body...)
			f.body = append(f.body, '\n')
			f.count++
		}
		if f.count > 0 {
			files = append(files, f)
		}
	}
	return files
}

// inPatients reports whether body, of type typ, belongs to the
// compartment of one of the patients (any patient when patients is nil:
// a Patient-level export of every patient).
func (s *Store) inPatients(typ string, body []byte, patients []string) bool {
	if patients == nil {
		for _, r := range s.recordsL("Patient") {
			if in, err := smartmw.InPatientCompartment(body, r.id); err == nil && in {
				return true
			}
		}
		return false
	}
	for _, id := range patients {
		if in, err := smartmw.InPatientCompartment(body, id); err == nil && in {
			return true
		}
	}
	return false
}

func anyMatch(fs []*smartmw.Search, body []byte) bool {
	for _, f := range fs {
		if ok, err := f.Matches(body); err == nil && ok {
			return true
		}
	}
	return false
}

// serveJob answers the Guard's forwards: GET [base]/bulk/<job> (status
// or manifest), DELETE of it (cancel), GET [base]/bulk/<job>/<n>.ndjson.
func (s *Store) serveJob(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.path()+"/bulk/")
	if !ok {
		writeResult(w, failed(fail(http.StatusNotFound, "not-found", "no such export URL")))
		return
	}
	id, file, _ := strings.Cut(rest, "/")
	b := &s.bulk
	b.mu.Lock()
	b.sweepL()
	job := b.jobs[id]
	if job == nil || job.cancelled {
		b.mu.Unlock()
		writeResult(w, failed(fail(http.StatusNotFound, "not-found", "no such export job: it was cancelled, or expired")))
		return
	}
	switch {
	case file == "" && r.Method == http.MethodDelete:
		job.cancelled = true
		delete(b.jobs, id)
		b.mu.Unlock()
		writeResult(w, result{status: http.StatusAccepted, body: outcomeJSON("information", "informational", "export cancelled")})
	case file == "" && job.done.IsZero():
		progress := job.progress
		b.mu.Unlock()
		w.Header().Set("X-Progress", fmt.Sprintf("in progress: %d%%", progress))
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusAccepted)
	case file == "":
		manifest := s.manifest(job)
		expires := job.done.Add(JobTTL)
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Expires", expires.UTC().Format(http.TimeFormat))
		w.Write(manifest)
	default:
		n, err := strconv.Atoi(strings.TrimSuffix(file, ".ndjson"))
		if err != nil || !strings.HasSuffix(file, ".ndjson") || n < 0 || n >= len(job.files) || job.done.IsZero() {
			b.mu.Unlock()
			writeResult(w, failed(fail(http.StatusNotFound, "not-found", "no such file")))
			return
		}
		body := job.files[n].body
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}

// manifest returns job's complete-status manifest. The caller holds the
// jobs' lock.
func (s *Store) manifest(job *bulkJob) []byte {
	output := []any{}
	for i, f := range job.files {
		output = append(output, map[string]any{"type": f.typ, "url": s.url(fmt.Sprintf("bulk/%s/%d.ndjson", job.id, i)), "count": f.count})
	}
	m := map[string]any{
		"transactionTime":     job.txTime.UTC().Format(time.RFC3339Nano),
		"request":             job.request,
		"requiresAccessToken": true,
		"output":              output,
		"error":               []any{},
	}
	out, _ := json.Marshal(m)
	return out
}
