package fhirrest

import "testing"

// validQueryByRule is validQuery's rule written out: every byte printable
// ASCII, no "#" and no ";", and every "%" the start of an escape of two
// hex digits.
func validQueryByRule(q string) bool {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '%':
			if i+2 >= len(q) || !ishex(q[i+1]) || !ishex(q[i+2]) {
				return false
			}
		case c < 0x21 || c > 0x7e || c == '#' || c == ';':
			return false
		}
	}
	return true
}

// TestValidQueryHoldsItsRule checks the table validQuery reads against
// the rule, for every byte alone, before and after a parameter, and as
// the first and the second digit of an escape.
func TestValidQueryHoldsItsRule(t *testing.T) {
	for c := range 256 {
		b := string([]byte{byte(c)}) // one byte, UTF-8 or not
		for _, q := range []string{b, "a=" + b, b + "&b=1", "%" + b + "0", "%0" + b, "%" + b, "a=%4" + b} {
			if got, want := validQuery(q), validQueryByRule(q); got != want {
				t.Errorf("validQuery(%q) = %v, the rule says %v", q, got, want)
			}
		}
	}
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"code=http://loinc.org|2339-0&patient=123", true},
		{"a=%2F", true},
		{"a=%2", false},
		{"a=%zz", false},
		{"a=1;b=2", false},
		{"a=1#b", false},
		{"a=1 2", false},
		{"a=\x7f", false},
		{"", true},
	} {
		if got := validQuery(tc.q); got != tc.want {
			t.Errorf("validQuery(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// FuzzValidQuery checks validQuery against its rule on any input.
func FuzzValidQuery(f *testing.F) {
	for _, q := range []string{"", "a=1", "a=%2F", "a=%2", "a;b", "a#b", "\x00", "%%41"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if got, want := validQuery(q), validQueryByRule(q); got != want {
			t.Fatalf("validQuery(%q) = %v, the rule says %v", q, got, want)
		}
	})
}
