package main

import (
	"fmt"
	"io"
)

// printWelcome prints what runs where, and curl commands to try.
func printWelcome(out io.Writer, root, audience, issuer string, embedded bool) {
	fmt.Fprintf(out, "smartguard demo: a FHIR R4 API protected by SMART on FHIR\n\n")
	fmt.Fprintf(out, "  FHIR base      %s\n", audience)
	fmt.Fprintf(out, "  discovery      %s/.well-known/smart-configuration\n", audience)
	fmt.Fprintf(out, "  issuer         %s\n", issuer)
	if !embedded {
		fmt.Fprintf(out, "\nTokens come from %s; patients in the sample data: example, other, third.\n", issuer)
		return
	}
	fmt.Fprintf(out, "  token endpoint %s/token (development only: no client authentication)\n", issuer)
	fmt.Fprintf(out, "  browser        %s/ (development only: nobody logs in)\n\n", root)
	fmt.Fprintf(out, "In a browser, open %s/ and launch the demo SMART app, standalone or from the\n", root)
	fmt.Fprintf(out, "EHR page: pick a patient, untick a scope, and see each request allowed or refused.\n\n")
	fmt.Fprintf(out, "With curl (patients: example, other, third):\n\n")
	fmt.Fprintf(out, "# 1. A token for a patient app, with patient \"example\" in context\n")
	fmt.Fprintf(out, "TOKEN=$(curl -s %s/token -d grant_type=client_credentials \\\n", issuer)
	fmt.Fprintf(out, "  --data-urlencode 'scope=launch/patient patient/Patient.r patient/Observation.rs' -d patient=example \\\n")
	fmt.Fprintf(out, "  | sed -E 's/^\\{\"access_token\":\"([^\"]+)\".*/\\1/')\n\n")
	fmt.Fprintf(out, "# 2. Read that patient (200)\n")
	fmt.Fprintf(out, "curl -s -H \"Authorization: Bearer $TOKEN\" %s/Patient/example\n\n", audience)
	fmt.Fprintf(out, "# 3. Search their laboratory results (200, patient example's only)\n")
	fmt.Fprintf(out, "curl -s -H \"Authorization: Bearer $TOKEN\" '%s/Observation?patient=example&category=laboratory'\n\n", audience)
	fmt.Fprintf(out, "# 4. Another patient's data is refused (403 insufficient_scope)\n")
	fmt.Fprintf(out, "curl -si -H \"Authorization: Bearer $TOKEN\" '%s/Observation?patient=other'\n\n", audience)
	fmt.Fprintf(out, "# 5. No token (401 with a Bearer challenge)\n")
	fmt.Fprintf(out, "curl -si %s/Patient/example\n\n", audience)
	fmt.Fprintf(out, "# 6. A granular scope: laboratory results only\n")
	fmt.Fprintf(out, "LAB=$(curl -s %s/token -d grant_type=client_credentials \\\n", issuer)
	fmt.Fprintf(out, "  --data-urlencode 'scope=launch/patient patient/Observation.rs?category=%s' -d patient=example \\\n", labCategory)
	fmt.Fprintf(out, "  | sed -E 's/^\\{\"access_token\":\"([^\"]+)\".*/\\1/')\n")
	fmt.Fprintf(out, "curl -s -H \"Authorization: Bearer $LAB\" '%s/Observation?patient=example&category=%s'  # 200: 3 results\n", audience, labCategory)
	fmt.Fprintf(out, "curl -si -H \"Authorization: Bearer $LAB\" %s/Observation/example-heart-rate  # 403: a vital sign\n\n", audience)
	fmt.Fprintf(out, "# 7. What the server supports, without a token (a CapabilityStatement)\n")
	fmt.Fprintf(out, "curl -s %s/metadata\n\n", audience)
	fmt.Fprintf(out, "# 8. Revoke the first token (RFC 7009): the API refuses it at once (401 invalid_token)\n")
	fmt.Fprintf(out, "curl -s %s/revoke -d client_id=%s --data-urlencode \"token=$TOKEN\"\n", issuer, demoClientID)
	fmt.Fprintf(out, "curl -si -H \"Authorization: Bearer $TOKEN\" %s/Patient/example\n\n", audience)
	fmt.Fprintf(out, "It is a whole FHIR R4 server: vread and _history, PUT with If-Match, PATCH (%s),\n", "application/json-patch+json")
	fmt.Fprintf(out, "conditional create/update/delete, batch and transaction Bundles (POST %s),\n", audience)
	fmt.Fprintf(out, "_include, _revinclude, _elements, _summary, _count paging and Patient/example/$everything,\n")
	fmt.Fprintf(out, "over US Core-shaped sample data of every (g)(10) resource type (patients example and other).\n")
}

// labCategory is the laboratory category of Observations, as granular
// scopes and searches name it.
const labCategory = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
