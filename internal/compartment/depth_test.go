package compartment

import (
	"errors"
	"strings"
	"testing"
)

// entryPoints are the functions of the package that read JSON, each
// reduced to its error.
var entryPoints = []struct {
	name string
	call func(data []byte) error
}{
	{"Member", func(d []byte) error { _, err := Member(d, "1"); return err }},
	{"MemberOf", func(d []byte) error { _, err := MemberOf(d, "Observation", "o", "1", AnyServer); return err }},
	{"OnlyMemberOf", func(d []byte) error { _, err := OnlyMemberOf(d, "Observation", "o", "1", NoServer); return err }},
	{"TypeAndID", func(d []byte) error { _, _, err := TypeAndID(d); return err }},
}

// Six megabytes of nesting once overflowed the stack and killed the
// process: every entry point answers ErrJSON instead, wherever the
// nesting sits (the top, a skipped member, a member on a checked path).
func TestRefusesDeepNesting(t *testing.T) {
	const size = 6 << 20
	brackets := strings.Repeat("[", size)
	objects := strings.Repeat(`{"a":`, size/5)
	bodies := []struct{ name, body string }{
		{"brackets", brackets},
		{"objects", objects},
		{"brackets in a skipped member", `{"resourceType":"Observation","note":` + brackets},
		{"objects in a skipped member", `{"resourceType":"Observation","note":` + objects},
		{"brackets in subject", `{"resourceType":"Observation","subject":` + brackets},
		{"brackets in performer", `{"resourceType":"Observation","performer":` + brackets},
		{"objects in subject", `{"resourceType":"Observation","subject":` + objects},
		{"brackets in category", `{"resourceType":"Observation","category":` + brackets},
		{"brackets in a coding", `{"resourceType":"Observation","category":{"coding":` + brackets},
		{"objects in a coding", `{"resourceType":"Observation","category":{"coding":[` + objects},
		{"closed brackets in subject", `{"resourceType":"Observation","subject":` + brackets[:size/2] + strings.Repeat("]", size/2) + `}`},
	}
	for _, ep := range entryPoints {
		for _, b := range bodies {
			t.Run(ep.name+"/"+b.name, func(t *testing.T) {
				if err := ep.call([]byte(b.body)); !errors.Is(err, ErrJSON) {
					t.Fatalf("err = %v, want ErrJSON", err)
				}
			})
		}
	}
}

// nested returns s inside n arrays.
func nested(n int, s string) string {
	return strings.Repeat("[", n) + s + strings.Repeat("]", n)
}

// The bound is maxDepth containers, counted from the resource itself, on
// checked paths and elsewhere alike.
func TestDepthBound(t *testing.T) {
	const ref = `{"reference":"Patient/1"}`
	const concept = `{"coding":[{"system":"s","code":"c"}]}`
	tests := []struct {
		name   string
		body   string
		member bool // what Member answers
		ok     bool
	}{
		{name: "skipped member at the bound", ok: true,
			body: `{"resourceType":"Observation","note":` + nested(maxDepth-1, "") + `}`},
		{name: "skipped member past the bound",
			body: `{"resourceType":"Observation","note":` + nested(maxDepth, "") + `}`},
		{name: "subject at the bound", ok: true, member: true,
			body: `{"resourceType":"Observation","subject":` + nested(maxDepth-2, ref) + `}`},
		{name: "subject past the bound",
			body: `{"resourceType":"Observation","subject":` + nested(maxDepth-1, ref) + `}`},
		{name: "category at the bound", ok: true,
			body: `{"resourceType":"Observation","category":` + nested(maxDepth-4, concept) + `}`},
		{name: "category past the bound",
			body: `{"resourceType":"Observation","category":` + nested(maxDepth-3, concept) + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := Member([]byte(tc.body), "1")
			if (err == nil) != tc.ok || in != tc.member {
				t.Errorf("Member = %v, %v; want %v, ok %v", in, err, tc.member, tc.ok)
			}
		})
	}
}
