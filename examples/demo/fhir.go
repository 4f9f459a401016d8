package main

import (
	"net/http"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/wellknown"
)

// mountFHIR registers the FHIR API under fhirPath (the path of base):
// the discovery document and the CapabilityStatement (GET metadata),
// both without a token, and every other request through the Guard to the
// in-memory R4 server.
func mountFHIR(mux *http.ServeMux, fhirPath, base string, doc wellknown.Configuration, discovery http.Handler, guard *smartmw.Guard, cors bool) error {
	st, err := fhirstore.New(base)
	if err != nil {
		return err
	}
	sec, err := doc.RestSecurity()
	if err != nil {
		return err
	}
	sec.CORS = cors
	mux.Handle(fhirPath+"/.well-known/smart-configuration", discovery)
	mux.Handle("GET "+fhirPath+"/metadata", st.Metadata(&sec))
	protected := guard.Handler(st)
	mux.Handle(fhirPath, protected)     // the base itself: batch, transaction, system search
	mux.Handle(fhirPath+"/", protected) // everything under it
	return nil
}
