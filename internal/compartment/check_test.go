package compartment

import (
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// checkVisitor feeds a Check the members of each entry's resource, as the
// response guard does, and keeps each entry's result.
type checkVisitor struct {
	c           Check
	data        []byte
	types       []string // each entry's resourceType, from a first scan
	pid, base   string
	ok, contain []bool
	err         []error
}

func (v *checkVisitor) Begin(n int) { v.c.Reset(v.data, v.types[n], v.pid, v.base) }
func (v *checkVisitor) Member(key fhirjson.Span, escaped bool, value fhirjson.Span) {
	v.c.Member(key.Of(v.data), escaped, value)
}
func (v *checkVisitor) End(int) {
	ok, contains, err := v.c.Result()
	v.ok, v.contain, v.err = append(v.ok, ok), append(v.contain, contains), append(v.err, err)
}

// agreeWithMemberOfContains checks that a Check fed the members of each
// resource of the searchset body answers what MemberOfContains answers of
// the resource's bytes.
func agreeWithMemberOfContains(t *testing.T, body []byte, pid, base string) {
	t.Helper()
	r, err := fhirjson.Scan(body)
	if err != nil {
		return
	}
	b, err := r.Bundle()
	if err != nil {
		return // refused whole by the guard
	}
	v := &checkVisitor{data: body, pid: pid, base: base}
	for _, e := range b.Entries {
		v.types = append(v.types, e.ResourceType)
	}
	var again fhirjson.Resource
	if err := fhirjson.ScanInto(&again, body, fhirjson.Options{Visitor: v}); err != nil {
		t.Fatalf("a second scan fails: %v", err)
	}
	k := 0
	for i, e := range b.Entries {
		if e.ResourcePresence != fhirjson.Present {
			continue
		}
		res := e.Resource.Of(body)
		ok, contains, err := MemberOfContains(res, e.ResourceType, pid, base)
		if ok != v.ok[k] || contains != v.contain[k] || (err == nil) != (v.err[k] == nil) {
			t.Fatalf("entry %d (%s) of %s, patient %q: Check = %v %v %v, MemberOfContains = %v %v %v",
				i, e.ResourceType, body, pid, v.ok[k], v.contain[k], v.err[k], ok, contains, err)
		}
		k++
	}
}

func searchsetOf(resources ...string) []byte {
	b := []byte(`{"resourceType":"Bundle","type":"searchset","entry":[`)
	for i, r := range resources {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"resource":`...)
		b = append(b, r...)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func TestCheckAgreesWithMemberOfContains(t *testing.T) {
	resources := []string{
		observation,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/456"}}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"Patient/456"}]}`,
		`{"subject":{"reference":"Patient/123"},"resourceType":"Observation"}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"Subject":{"reference":"Patient/456"}}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"subject":{"reference":"Patient/123"}}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123","Reference":"x"}}`,
		`{"resourceType":"Observation","subj\u0065ct":{"reference":"Patient/123"}}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"contained":[{"resourceType":"Condition","subject":{"reference":"Patient/9"}}]}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"Contained":[]}`,
		`{"resourceType":"Observation","ID":"x","subject":{"reference":"Patient/123"}}`,
		`{"resourceType":"Observation","resourceType":"Observation","subject":{"reference":"Patient/123"}}`,
		`{"resourceType":"Obs\u0065rvation","subject":{"reference":"Patient/123"}}`,
		`{"resourceType":"Observation","subject":{"reference":"https://x.example/r4/Patient/123/_history/2"}}`,
		`{"resourceType":"Observation","subject":[{"reference":"Patient/123"}],"id":7}`,
		`{"resourceType":"Encounter","subject":{"reference":"Patient/123"},"participant":[{"individual":{"reference":"Patient/123"}}]}`,
		`{"resourceType":"Device","patient":{"reference":"Patient/123"}}`,
		`{"resourceType":"Medication","code":{"text":"x"}}`,
		`{"resourceType":"Patient","id":"123"}`,
		`{}`,
	}
	for _, pid := range []string{"123", "456", "", "\xff"} {
		for _, base := range []string{AnyServer, NoServer, "https://x.example/r4"} {
			agreeWithMemberOfContains(t, searchsetOf(resources...), pid, base)
			for _, r := range resources {
				agreeWithMemberOfContains(t, searchsetOf(r), pid, base)
			}
		}
	}
}

// FuzzCheck checks that a Check fed a resource's members by the scan of a
// searchset that holds it answers as MemberOfContains does of its bytes.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(observation), "123", uint8(0))
	f.Add([]byte(`{"resourceType":"Observation","subject":{"reference":"Patient/1"},"contained":[]}`), "1", uint8(1))
	f.Add([]byte(`{"resourceType":"Encounter","subject":{"reference":"Patient/1"}},{"resource":{"resourceType":"Observation"}`), "1", uint8(2))
	f.Fuzz(func(t *testing.T, resource []byte, pid string, base uint8) {
		bases := []string{AnyServer, NoServer, "https://x.example/r4"}
		agreeWithMemberOfContains(t, searchsetOf(string(resource)), pid, bases[int(base)%len(bases)])
	})
}
