package main

import (
	"flag"
	"io"
	"slices"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// TestAuthFlags: the flags for introspection and claim paths fill the
// Config fields they name, and refuse what those fields cannot hold.
func TestAuthFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		ok    bool
		check func(a authFlags) bool
	}{
		{"hydra opaque", []string{"-tokens", "introspect", "-introspection-endpoint", "http://127.0.0.1:4445/admin/oauth2/introspect", "-introspection-auth", "none"}, true,
			func(a authFlags) bool {
				return a.tokens == smartmw.TokensIntrospect && a.introspection.Auth == smartmw.IntrospectionNone &&
					a.introspection.Endpoint == "http://127.0.0.1:4445/admin/oauth2/introspect"
			}},
		{"claim paths in order", []string{"-claim", "patient=ext.patient", "-claim", "patient=patient", "-claim", "fhirUser=ext.fhirUser"}, true,
			func(a authFlags) bool {
				return slices.Equal(a.claims.Patient, []string{"ext.patient", "patient"}) && slices.Equal(a.claims.FHIRUser, []string{"ext.fhirUser"})
			}},
		{"client credentials", []string{"-tokens", "jwt-or-introspect", "-introspection-client-id", "rs", "-introspection-client-secret", "x", "-introspection-auth", "post"}, true,
			func(a authFlags) bool {
				return a.tokens == smartmw.TokensJWTOrIntrospect && a.introspection.Auth == smartmw.IntrospectionClientSecretPost && a.introspection.ClientID == "rs"
			}},
		{"unknown claim", []string{"-claim", "patient_id=x"}, false, nil},
		{"no path", []string{"-claim", "patient="}, false, nil},
		{"unknown token format", []string{"-tokens", "opaque"}, false, nil},
		{"unknown auth", []string{"-introspection-auth", "mtls"}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("demo", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var a authFlags
			a.register(fs)
			err := fs.Parse(tc.args)
			if (err == nil) != tc.ok {
				t.Fatalf("Parse: %v", err)
			}
			if tc.ok && !tc.check(a) {
				t.Errorf("flags %+v", a)
			}
		})
	}
}
