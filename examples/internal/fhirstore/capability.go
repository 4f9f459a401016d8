package fhirstore

import (
	"net/http"
	"strconv"

	"github.com/smartguard/smartguard/wellknown"
)

// searchDoc says what a search of each type evaluates.
const searchDoc = "Every R4 search parameter of the type, evaluated in memory by the library's " +
	"evaluator (smartmw.ParseSearch): token, string, date, reference, uri, number and quantity, " +
	"with their modifiers and prefixes; not composite, chained, _has, _filter or terminology modifiers. " +
	"Also _count (with next links), _sort=_id|_lastUpdated, _include and _revinclude (not :iterate), " +
	"_summary (true: the R4 summary and mandatory elements; text: text and the mandatory elements; " +
	"data: all but text; count; false) and _elements (top-level names, or Type.name; the mandatory elements " +
	"are always kept), which also apply to included resources and to read and vread; " +
	"a resource cut down by them is tagged SUBSETTED."

// capabilityStatement describes what the store does, for the types it
// holds (and any other R4 type, which it stores the same way).
func (s *Store) capabilityStatement(security *wellknown.RestSecurity) []byte {
	s.mu.RLock()
	types := s.typesL()
	s.mu.RUnlock()
	code := func(c string) map[string]any { return map[string]any{"code": c} }
	param := func(name, typ string) map[string]any { return map[string]any{"name": name, "type": typ} }
	var resources []any
	for _, t := range types {
		r := map[string]any{
			"type": t, "versioning": "versioned", "readHistory": true, "updateCreate": true,
			"conditionalCreate": true, "conditionalUpdate": true, "conditionalDelete": "single",
			"conditionalRead": "not-supported", "referencePolicy": []any{"literal"},
			"interaction": []any{code("read"), code("vread"), code("update"), code("patch"), code("delete"),
				code("history-instance"), code("history-type"), code("create"), code("search-type")},
			"searchParam":   []any{param("_id", "token"), param("_lastUpdated", "date")},
			"documentation": searchDoc,
		}
		r["searchRevInclude"] = []any{"Provenance:target"}
		if t == "MedicationRequest" {
			r["searchInclude"] = []any{"MedicationRequest:medication"}
		}
		if t == "Patient" {
			r["operation"] = []any{map[string]any{"name": "everything",
				"definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}}
		}
		resources = append(resources, r)
	}
	rest := map[string]any{
		"mode": "server",
		"documentation": "An in-memory FHIR R4 server with sample data (smartguard's examples). " +
			"It stores any R4 resource type; the types listed are those it holds.",
		"resource":    resources,
		"interaction": []any{code("transaction"), code("batch"), code("search-system"), code("history-system")},
		"searchParam": []any{param("_id", "token"), param("_lastUpdated", "date"), param("_type", "token")},
	}
	if security != nil {
		rest["security"] = security
	}
	return encode(map[string]any{
		"resourceType": "CapabilityStatement", "status": "active", "date": instant(s.started), "kind": "instance",
		"software":       map[string]any{"name": "smartguard demo FHIR server"},
		"implementation": map[string]any{"description": "smartguard's in-memory FHIR R4 server", "url": s.base},
		"fhirVersion":    "4.0.1", "format": []any{"json"}, "patchFormat": []any{jsonPatch},
		"rest": []any{rest},
	})
}

// Metadata returns a handler that serves the store's CapabilityStatement
// to GET and HEAD, to any origin: the answer to GET [base]/metadata, which
// FHIR clients read before they have a token. security, when not nil, is
// put in rest[0].security; build it with
// wellknown.Configuration.RestSecurity. The statement lists the types
// the store holds when Metadata is called.
func (s *Store) Metadata(security *wellknown.RestSecurity) http.Handler {
	body := s.capabilityStatement(security)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeResult(w, failed(fail(http.StatusMethodNotAllowed, "not-supported", "metadata is read with GET")))
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Content-Type", "application/fhir+json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
}
