package fhirrest

import "testing"

// FuzzRawParams checks that RawParams reads the parameters Params reads,
// and that a RawParam's Value and ValueIs agree with Params' value.
func FuzzRawParams(f *testing.F) {
	for _, s := range [][2]string{
		{"a=1&b=2", "2"}, {"code=http%3A%2F%2Floinc.org%7C2339-0", "http://loinc.org|2339-0"}, {"&&=&a", ""},
		{"x=%zz", "\x00"}, {"x=a+b", "a b"}, {"x=%", "%"}, {"x=%4", ""}, {"x=%41%42", "AB"}, {"x=1=2", "1=2"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, q, v string) {
		var want []Param
		for p := range Params(q) {
			want = append(want, p)
		}
		i := 0
		for p := range RawParams(q) {
			if i >= len(want) {
				t.Fatalf("RawParams(%q) reads more parameters than Params", q)
			}
			if p.Name != want[i].Name || p.Value() != want[i].Value {
				t.Fatalf("RawParams(%q)[%d] = %q %q, Params %q", q, i, p.Name, p.Value(), want[i])
			}
			if p.ValueIs(v) != (want[i].Value == v) || !p.ValueIs(want[i].Value) {
				t.Fatalf("RawParams(%q)[%d].ValueIs(%q) disagrees with Params' value %q", q, i, v, want[i].Value)
			}
			i++
		}
		if i != len(want) {
			t.Fatalf("RawParams(%q) reads %d parameters, Params %d", q, i, len(want))
		}
	})
}
