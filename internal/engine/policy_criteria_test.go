package engine

import "testing"

// TestUnescapeWithVars: criteria values are query-unescaped with the
// policy's variables kept as written; a '%' that starts neither, or an
// escape decoding to '%', is refused.
func TestUnescapeWithVars(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "laboratory", want: "laboratory"},
		{in: "http%3A%2F%2Floinc.org%7C2339-0", want: "http://loinc.org|2339-0"},
		{in: "%patient", want: "%patient"},
		{in: "Patient%2F1,%patient", want: "Patient/1,%patient"},
		{in: "%fhirUser%2C%client+x", want: "%fhirUser,%client x"},
		{in: "%patients", want: "%patients"}, // %patient, then "s"
		{in: "%nobody", bad: true},
		{in: "a%", bad: true},
		{in: "%25patient", bad: true},
		{in: "%patient%zz", bad: true},
	} {
		got, err := unescapeWithVars(tc.in)
		if (err != nil) != tc.bad || !tc.bad && got != tc.want {
			t.Errorf("%q: %q, %v; want %q (refused: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
