// Package smarttest helps you test handlers protected by smartguard, with
// real tokens: an authorization server on httptest with generated keys, a
// JWKS and discovery documents, tokens minted with any scopes and launch
// context (or deliberately broken), and a Config for smartmw.New that
// trusts it.
//
//	func TestPatientAppReadsOnlyItsOwnObservations(t *testing.T) {
//		is := smarttest.NewIssuer(t)
//		guard, err := smartmw.New(t.Context(), is.Config())
//		...
//		tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
//		...
//		r.Header.Set("Authorization", "Bearer "+tc.token)
//		...
//	}
//
// For handler tests without HTTP authentication at all, WithGrant puts a
// grant straight on a request.
//
// It is meant for _test.go files; library code must not import it.
package smarttest
