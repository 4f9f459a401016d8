package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/testissuer"
)

// person is a patient as the EHR page and the patient picker show it.
type person struct {
	ID, Name, Gender, BirthDate string
	Encounters                  []encounter
}

// encounter is an Encounter as the pickers show it.
type encounter struct {
	ID, Patient, Label string
}

// directory is what the EHR page and the consent page need of the FHIR
// store: the patients a user (a fhirUser reference such as
// "Practitioner/dr-jones") reaches, each with their encounters.
type directory interface {
	Patients(ctx context.Context, user string) ([]person, error)
}

// fhirDirectory reads the patients through the demo's own FHIR API, as
// any client would, with user/ tokens of its own (client "demo-ehr")
// signed in as the EHR's user: it needs nothing of the store but FHIR
// search, and the demo's access policy (-policy), when it has one, holds
// each user to their patients.
type fhirDirectory struct {
	api  http.Handler // the guarded FHIR API
	base string       // its base URL
	dev  *testissuer.Issuer

	mu     sync.Mutex
	tokens map[string]userToken // by user
}

type userToken struct {
	tok     string
	expires time.Time
}

// ehrClientID is the client id of the EHR's own reads.
const ehrClientID = "demo-ehr"

// token returns a token of the EHR signed in as user, reused while it
// has a minute left.
func (f *fhirDirectory) token(user string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if t, ok := f.tokens[user]; ok && now.Add(time.Minute).Before(t.expires) {
		return t.tok, nil
	}
	exp := now.Add(5 * time.Minute)
	tok, err := f.dev.Sign(jwt.MapClaims{"iss": f.dev.URL(), "aud": f.base, "sub": user, "client_id": ehrClientID, "fhirUser": user,
		"scope": "openid fhirUser user/Patient.rs user/Encounter.rs", "iat": now.Unix(), "exp": exp.Unix()}, nil)
	if err != nil {
		return "", err
	}
	if f.tokens == nil {
		f.tokens = map[string]userToken{}
	}
	f.tokens[user] = userToken{tok, exp}
	return tok, nil
}

// bufferedResponse is an in-memory http.ResponseWriter.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// search runs a FHIR search (rel is "Type?query") and returns the
// resources of the searchset.
func (f *fhirDirectory) search(ctx context.Context, user, rel string) ([]json.RawMessage, error) {
	tok, err := f.token(user)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/"+rel, nil)
	if err != nil {
		return nil, err
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/fhir+json")
	w := &bufferedResponse{header: http.Header{}}
	f.api.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %.200s", rel, w.status, w.body.String())
	}
	var bundle struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(w.body.Bytes(), &bundle); err != nil {
		return nil, fmt.Errorf("GET %s: %w", rel, err)
	}
	out := make([]json.RawMessage, 0, len(bundle.Entry))
	for _, e := range bundle.Entry {
		out = append(out, e.Resource)
	}
	return out, nil
}

// Patients returns the patients user reaches by id, each with its
// encounters.
func (f *fhirDirectory) Patients(ctx context.Context, user string) ([]person, error) {
	pats, err := f.search(ctx, user, "Patient?_count=200")
	if err != nil {
		return nil, err
	}
	encs, err := f.search(ctx, user, "Encounter?_count=1000")
	if err != nil {
		return nil, err
	}
	byPatient := map[string][]encounter{}
	for _, raw := range encs {
		if e, ok := parseEncounter(raw); ok {
			byPatient[e.Patient] = append(byPatient[e.Patient], e)
		}
	}
	var out []person
	for _, raw := range pats {
		var p struct {
			ID   string `json:"id"`
			Name []struct {
				Text   string   `json:"text"`
				Given  []string `json:"given"`
				Family string   `json:"family"`
			} `json:"name"`
			Gender    string `json:"gender"`
			BirthDate string `json:"birthDate"`
		}
		if json.Unmarshal(raw, &p) != nil || p.ID == "" {
			continue
		}
		name := p.ID
		if len(p.Name) > 0 {
			n := p.Name[0]
			if n.Text != "" {
				name = n.Text
			} else if full := strings.TrimSpace(strings.Join(append(slices.Clone(n.Given), n.Family), " ")); full != "" {
				name = full
			}
		}
		es := byPatient[p.ID]
		slices.SortFunc(es, func(a, b encounter) int { return strings.Compare(a.Label, b.Label) })
		out = append(out, person{ID: p.ID, Name: name, Gender: p.Gender, BirthDate: p.BirthDate, Encounters: es})
	}
	slices.SortFunc(out, func(a, b person) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func parseEncounter(raw json.RawMessage) (encounter, bool) {
	var e struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Subject struct {
			Reference string `json:"reference"`
		} `json:"subject"`
		Type []struct {
			Text   string `json:"text"`
			Coding []struct {
				Display string `json:"display"`
			} `json:"coding"`
		} `json:"type"`
		Class struct {
			Display string `json:"display"`
		} `json:"class"`
		Period struct {
			Start string `json:"start"`
		} `json:"period"`
	}
	if json.Unmarshal(raw, &e) != nil || e.ID == "" {
		return encounter{}, false
	}
	pat, ok := strings.CutPrefix(e.Subject.Reference, "Patient/")
	if !ok {
		return encounter{}, false
	}
	what := e.Class.Display
	if len(e.Type) > 0 {
		if e.Type[0].Text != "" {
			what = e.Type[0].Text
		} else if len(e.Type[0].Coding) > 0 && e.Type[0].Coding[0].Display != "" {
			what = e.Type[0].Coding[0].Display
		}
	}
	if what == "" {
		what = "Encounter"
	}
	label := what
	if len(e.Period.Start) >= 10 {
		label = e.Period.Start[:10] + " " + what
	}
	if e.Status != "" {
		label += " (" + e.Status + ")"
	}
	return encounter{ID: e.ID, Patient: pat, Label: label + " · " + e.ID}, true
}

// findPatient returns the patient of ps with the given id.
func findPatient(ps []person, id string) (person, bool) {
	i := slices.IndexFunc(ps, func(p person) bool { return p.ID == id })
	if i < 0 {
		return person{}, false
	}
	return ps[i], true
}

// hasEncounter reports whether enc is one of p's encounters.
func (p person) hasEncounter(enc string) bool {
	return slices.ContainsFunc(p.Encounters, func(e encounter) bool { return e.ID == enc })
}
