package engine

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/smartguard/smartguard/internal/fhirrest"
)

// The response guard reads FHIR JSON only. A request for another format
// (_format=xml, Accept: application/fhir+xml) under a restricted decision
// is refused before the handler, with 406, whether its resource exists or
// not: answered by the handler, it would be refused only when it exists
// (502), which tells the client that it does.

// fhirJSON is the media type the guard asks handlers for.
const fhirJSON = "application/fhir+json"

// errNotJSON refuses a request for a format the guard cannot check.
func errNotJSON(what string) *Error {
	return &Error{Status: http.StatusNotAcceptable,
		Description: what + " asks for a format other than FHIR JSON, which the response guard cannot check"}
}

// jsonOnly refuses r when its _format or Accept ask for a format other
// than JSON, and otherwise asks the handler for FHIR JSON (Accept).
func jsonOnly(r *http.Request) error {
	for p := range fhirrest.RawParams(r.URL.RawQuery) {
		if p.Name == "_format" && !jsonFormat(p.Value()) {
			return errNotJSON("_format")
		}
	}
	accept := r.Header["Accept"]
	if len(accept) == 1 && accept[0] == fhirJSON {
		return nil // what the handler is asked for already
	}
	if len(accept) > 0 && !acceptsJSON(strings.Join(accept, ",")) {
		return errNotJSON("Accept")
	}
	r.Header["Accept"] = []string{fhirJSON}
	return nil
}

// jsonFormat reports whether a _format value names JSON: "json" or a
// JSON media type, with parameters or not.
func jsonFormat(v string) bool {
	t, _, _ := strings.Cut(v, ";")
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "json", "application/json", "application/fhir+json", "application/json+fhir":
		return true
	}
	return false
}

// acceptsJSON reports whether an Accept header's media ranges take JSON
// with a non-zero quality.
func acceptsJSON(accept string) bool {
	for r := range strings.SplitSeq(accept, ",") {
		t, params, err := mime.ParseMediaType(strings.TrimSpace(r))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
				continue
			}
		}
		switch t {
		case "*/*", "application/*", "application/json", "application/fhir+json", "application/json+fhir":
			return true
		}
	}
	return false
}
