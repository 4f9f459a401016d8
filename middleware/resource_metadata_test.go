package middleware_test

import (
	"regexp"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// authParams is the syntax of the Guard's challenges: RFC 7235 §4.1 with
// RFC 6750 §3's restriction on the bytes of a quoted value (no quoted
// pair: '"' and '\' never appear inside).
var authParams = regexp.MustCompile(`^Bearer realm="[\x20\x21\x23-\x5B\x5D-\x7E]*"(, [a-z_]+="[\x20\x21\x23-\x5B\x5D-\x7E]*")*$`)

func TestChallengeResourceMetadata(t *testing.T) {
	const prm = "https://fhir.example.org/.well-known/oauth-protected-resource/r4"
	with := func(e *smartmw.Error) *smartmw.Error {
		c := *e
		c.ResourceMetadata = prm
		return &c
	}
	tests := []struct {
		name string
		err  *smartmw.Error
		want string
	}{
		{name: "no token", err: with(smartmw.NoTokenError),
			want: `Bearer realm="fhir", resource_metadata="` + prm + `"`},
		{name: "invalid token", err: with(smartmw.InvalidToken("token expired", nil)),
			want: `Bearer realm="fhir", error="invalid_token", error_description="token expired", resource_metadata="` + prm + `"`},
		{name: "scope", err: with(&smartmw.Error{Status: 403, Code: smartmw.CodeInsufficientScope, Description: "needs scope", Scope: "patient/Observation.rs"}),
			want: `Bearer realm="fhir", error="insufficient_scope", error_description="needs scope", scope="patient/Observation.rs", resource_metadata="` + prm + `"`},
		{name: "quotes, backslashes and controls dropped", err: &smartmw.Error{Status: 401, ResourceMetadata: "https://a.example/\"x\\\r\n\x7fé"},
			want: `Bearer realm="fhir", resource_metadata="https://a.example/x"`},
		{name: "none", err: smartmw.NoTokenError, want: `Bearer realm="fhir"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := smartmw.Challenge(smartmw.DefaultRealm, tc.err)
			if got != tc.want {
				t.Errorf("Challenge = %s\nwant        %s", got, tc.want)
			}
			if !authParams.MatchString(got) {
				t.Errorf("Challenge = %s: not RFC 6750 §3 syntax", got)
			}
		})
	}
}
