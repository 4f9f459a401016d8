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
	fmt.Fprintf(out, "  token endpoint %s/token (development only: no client authentication)\n\n", issuer)
	fmt.Fprintf(out, "Try it (patients: example, other, third):\n\n")
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
}
