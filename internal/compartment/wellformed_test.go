package compartment

import (
	"encoding/json"
	"errors"
	"testing"
)

// Members the checks do not read were skipped by matching brackets, so
// malformed JSON inside them passed, and a client's parser could read the
// resource otherwise. They are read as strictly as json.Valid now.
func TestRefusesMalformedJSONInMembersNotRead(t *testing.T) {
	const head = `{"resourceType":"Observation","subject":{"reference":"Patient/1"},"category":[{"coding":[{"system":"s","code":"c"}]}],"note":`
	tests := []struct{ name, note string }{
		{"leading zero", `[01]`},
		{"dot without digits", `[1.]`},
		{"plus sign", `[+1]`},
		{"bare word", `[nul]`},
		{"bad escape", `"\x"`},
		{"control byte", "\"a\x01\""},
		{"trailing comma", `[1,]`},
		{"missing colon", `{"a" 1}`},
		{"missing comma", `{"a":1 "b":2}`},
		{"key not a string", `{1:2}`},
		{"bad value in a Reference", `{"display":tru}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(head + tc.note + `}`)
			if json.Valid(body) {
				t.Fatal("premise: valid JSON")
			}
			if ok, err := Member(body, "1"); !errors.Is(err, ErrJSON) {
				t.Errorf("Member = %v, %v; want ErrJSON", ok, err)
			}
		})
	}
	// The same resource with a well-formed note is read.
	body := []byte(head + `[1,"x",{"a":null}]}`)
	if ok, err := Member(body, "1"); !ok || err != nil {
		t.Fatalf("Member = %v, %v", ok, err)
	}
}

// The response guard checks every entry of a Bundle: the membership
// and constraint checks allocate nothing.
func TestChecksDoNotAllocate(t *testing.T) {
	data := []byte(observation)
	tests := []struct {
		name string
		call func() (bool, error)
	}{
		{"Member", func() (bool, error) { return Member(data, "123") }},
		{"MemberOf", func() (bool, error) { return MemberOf(data, "Observation", "obs1", "123", AnyServer) }},
		{"OnlyMemberOf", func() (bool, error) { return OnlyMemberOf(data, "Observation", "obs1", "123", NoServer) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(50, func() {
				if ok, err := tc.call(); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}); n != 0 {
				t.Fatalf("%v allocations", n)
			}
		})
	}
}
