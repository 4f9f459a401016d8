package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/smartguard/smartguard/examples/internal/devauth"
)

// app is the demo SMART app: plain HTML, CSS and JavaScript, no build
// step, served at /app/.
//
//go:embed app
var appFiles embed.FS

// pageFiles are the server-rendered pages: home, EHR, consent, errors.
//
//go:embed pages/*.html
var pageFiles embed.FS

var pages = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

// browser serves what a browser sees of the demo: the home page, the
// EHR page, the consent page of the embedded authorization server and the
// demo SMART app (like every route of the demo, under its own host name
// only: see ownHostOnly).
type browser struct {
	auth     *embeddedAuth
	dir      directory
	audit    *auditLog
	root     string // http://127.0.0.1:PORT
	audience string // the FHIR base URL
}

// routes registers the browser pages on mux.
func (b *browser) routes(mux *http.ServeMux) {
	sub, err := fs.Sub(appFiles, "app")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	static := http.StripPrefix("/app/", http.FileServerFS(sub))
	for pattern, h := range map[string]http.Handler{
		"GET /{$}":             http.HandlerFunc(b.home),
		"GET /app/":            http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { pageHeaders(w); static.ServeHTTP(w, r) }),
		"GET /app/config.json": http.HandlerFunc(b.config),
		"GET /ehr/{$}":         http.HandlerFunc(b.ehr),
		"POST /ehr/launch":     http.HandlerFunc(b.launch),
		"GET /auth/authorize":  http.HandlerFunc(b.authorize),
		"POST /auth/consent":   http.HandlerFunc(b.consent),
		"GET /demo/audit":      b.audit,
	} {
		mux.Handle(pattern, h)
	}
}

// pageHeaders sets the headers of every page: no third-party content, no
// framing, no referrer (the app's address carries the code for a moment),
// no caching. formTargets are origins a form may submit to, beyond the
// demo's own (Chromium applies form-action to the redirect that follows).
func pageHeaders(w http.ResponseWriter, formTargets ...string) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"+
		strings.Join(append([]string{""}, formTargets...), " "))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func render(w http.ResponseWriter, status int, name string, data any, formTargets ...string) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		log.Printf("demo: page %s: %v", name, err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	pageHeaders(w, formTargets...)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorView struct{ Title, Code, Description, Advice string }

func (b *browser) home(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "home.html", map[string]string{"Audience": b.audience, "Issuer": b.auth.dev.URL(), "User": devUser})
}

// config tells the app its FHIR server, client id and redirect URI.
func (b *browser) config(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]string{"fhirBase": b.audience, "clientId": demoClientID, "redirectUri": b.root + "/app/"})
}

type ehrView struct {
	User, LaunchURL, Error string
	Users                  []string // whom the EHR page signs in as
	Patients               []person
}

// ehrUsers are the practitioners of the sample data the EHR page can
// sign in as; the first is the default (devUser). Under the demo's
// access policy (-policy) each sees only their patients.
var ehrUsers = []string{devUser, "Practitioner/dr-lee"}

// ehrUser returns the user the EHR request r signs in as: its "user"
// parameter (query or form), one of ehrUsers, else devUser; ok is false
// for a user not in the list.
func ehrUser(r *http.Request) (user string, ok bool) {
	u := r.FormValue("user")
	if u == "" {
		return devUser, true
	}
	if !slices.Contains(ehrUsers, u) {
		return devUser, false
	}
	return u, true
}

func (b *browser) ehr(w http.ResponseWriter, r *http.Request) {
	if _, ok := ehrUser(r); !ok {
		b.renderEHR(w, r, http.StatusBadRequest, "Sign in as one of the practitioners of the list.")
		return
	}
	b.renderEHR(w, r, http.StatusOK, "")
}

// renderEHR renders the EHR page for the user the request signs in as:
// the patients that user reaches through the FHIR API.
func (b *browser) renderEHR(w http.ResponseWriter, r *http.Request, status int, msg string) {
	user, _ := ehrUser(r)
	ps, err := b.dir.Patients(r.Context(), user)
	if err != nil {
		log.Printf("demo: EHR page: %v", err)
		render(w, http.StatusBadGateway, "error.html", errorView{Title: "The EHR cannot read its patients",
			Code: "bad_gateway", Description: "the FHIR store did not answer the patient search", Advice: "See the demo's log."})
		return
	}
	render(w, status, "ehr.html", ehrView{User: user, Users: ehrUsers, LaunchURL: b.root + "/app/launch.html", Error: msg, Patients: ps})
}

// launch starts an EHR launch: it registers the context chosen on the EHR
// page and sends the browser to the app's launch URL with iss and launch.
func (b *browser) launch(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		b.renderEHR(w, r, http.StatusBadRequest, "The launch form could not be read.")
		return
	}
	user, ok := ehrUser(r)
	if !ok {
		b.renderEHR(w, r, http.StatusBadRequest, "Sign in as one of the practitioners of the list.")
		return
	}
	ps, err := b.dir.Patients(r.Context(), user)
	if err != nil {
		b.renderEHR(w, r, http.StatusBadGateway, "")
		return
	}
	p, ok := findPatient(ps, r.PostForm.Get("patient"))
	enc := r.PostForm.Get("encounter")
	if !ok || enc != "" && !p.hasEncounter(enc) {
		b.renderEHR(w, r, http.StatusBadRequest, "Choose a patient of the list (and one of their encounters, or none).")
		return
	}
	id, err := b.auth.flows.NewLaunch(devauth.Launch{Patient: p.ID, Encounter: enc, User: user})
	if err != nil {
		b.renderEHR(w, r, http.StatusServiceUnavailable, "Too many launches are waiting; try again in a few minutes.")
		return
	}
	http.Redirect(w, r, b.root+"/app/launch.html?"+url.Values{"iss": {b.audience}, "launch": {id}}.Encode(), http.StatusSeeOther)
}

// authorize is the authorization endpoint: a request that passes every
// check gets the consent page; an error goes back to the app when its
// redirect URI is trusted, and is shown here otherwise.
func (b *browser) authorize(w http.ResponseWriter, r *http.Request) {
	req, err := b.auth.flows.Authorize(r.URL.Query())
	var ae *devauth.AuthError
	if errors.As(err, &ae) {
		if ae.Redirect != "" {
			http.Redirect(w, r, ae.Redirect, http.StatusFound)
			return
		}
		render(w, http.StatusBadRequest, "error.html", errorView{Title: "This authorization request is refused",
			Code: ae.Code, Description: ae.Description,
			Advice: "The request is not sent back to the app, because the app or its redirect URI is not registered here."})
		return
	}
	ticked := map[string]bool{}
	for _, s := range req.Scopes {
		ticked[s.Scope] = s.Grantable
	}
	b.renderConsent(w, r, http.StatusOK, consentView{Req: req, Ticked: ticked})
}

type consentView struct {
	Req                *devauth.Request
	User               string
	Patients           []person
	Encounters         bool // some patient has encounters
	LaunchPatient      *person
	Ticked             map[string]bool
	Patient, Encounter string // picked
	Error              string
}

// consentUser is who approves req: the EHR's user of an EHR launch, else
// devUser.
func consentUser(req *devauth.Request) string {
	if req.Launch != nil && req.Launch.User != "" {
		return req.Launch.User
	}
	return devUser
}

func (b *browser) renderConsent(w http.ResponseWriter, r *http.Request, status int, v consentView) {
	ps, err := b.dir.Patients(r.Context(), consentUser(v.Req))
	if err != nil {
		log.Printf("demo: consent page: %v", err)
		render(w, http.StatusBadGateway, "error.html", errorView{Title: "The patient list is not available",
			Code: "temporarily_unavailable", Description: "the FHIR store did not answer the patient search", Advice: "See the demo's log."})
		return
	}
	v.User, v.Patients = consentUser(v.Req), ps
	v.Encounters = slices.ContainsFunc(ps, func(p person) bool { return len(p.Encounters) > 0 })
	if l := v.Req.Launch; l != nil && l.Patient != "" {
		p, ok := findPatient(ps, l.Patient)
		if !ok {
			p = person{ID: l.Patient, Name: l.Patient}
		}
		v.LaunchPatient = &p
	}
	var target []string
	if u, err := url.Parse(v.Req.RedirectURI); err == nil {
		target = append(target, u.Scheme+"://"+u.Host)
	}
	render(w, status, "consent.html", v, target...)
}

// consent takes the user's decision on a pending authorization request.
func (b *browser) consent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	req, ok := b.auth.flows.Pending(f.Get("request"))
	if !ok {
		render(w, http.StatusBadRequest, "error.html", errorView{Title: "This authorization request is over",
			Code: "invalid_request", Description: "it expired or was already decided",
			Advice: "Launch the app again."})
		return
	}
	var to string
	var err error
	ticked := map[string]bool{}
	for _, s := range f["scope"] {
		ticked[s] = true
	}
	view := consentView{Req: req, Ticked: ticked, Patient: f.Get("patient"), Encounter: f.Get("encounter")}
	if f.Get("decision") == "deny" {
		to, err = b.auth.flows.Deny(req.ID)
	} else {
		a := devauth.Approval{Scopes: f["scope"], FHIRUser: consentUser(req)}
		if req.NeedsPatientPick() && ticked["launch/patient"] {
			a.Patient = view.Patient
		}
		if req.OffersEncounterPick() && ticked["launch/encounter"] {
			a.Encounter = view.Encounter
		}
		if msg := b.checkPick(r, a); msg != "" {
			view.Error = msg
			b.renderConsent(w, r, http.StatusBadRequest, view)
			return
		}
		to, err = b.auth.flows.Approve(req.ID, a)
	}
	switch {
	case errors.Is(err, devauth.ErrNoRequest):
		render(w, http.StatusBadRequest, "error.html", errorView{Title: "This authorization request is over",
			Code: "invalid_request", Description: "it expired or was already decided", Advice: "Launch the app again."})
	case err != nil:
		view.Error = strings.TrimPrefix(err.Error(), "devauth: ")
		b.renderConsent(w, r, http.StatusBadRequest, view)
	default:
		http.Redirect(w, r, to, http.StatusSeeOther)
	}
}

// checkPick checks that the picked patient and encounter exist.
func (b *browser) checkPick(r *http.Request, a devauth.Approval) string {
	if a.Patient == "" && a.Encounter == "" {
		return ""
	}
	ps, err := b.dir.Patients(r.Context(), a.FHIRUser)
	if err != nil {
		return "The patient list is not available; try again."
	}
	p, ok := findPatient(ps, a.Patient)
	if a.Patient != "" && !ok {
		return "Pick a patient of the list."
	}
	if a.Encounter != "" && !p.hasEncounter(a.Encounter) {
		return "The encounter must be one of the chosen patient's (or none)."
	}
	return ""
}
