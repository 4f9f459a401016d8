package search

import (
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// matcherVisitor feeds a Matcher the members of each entry's resource, as
// the response guard does, and keeps each entry's result.
type matcherVisitor struct {
	m    Matcher
	q    *Query
	data []byte
	got  []bool
}

func (v *matcherVisitor) Begin(int) { v.m.Reset(v.q, v.data) }
func (v *matcherVisitor) Member(key fhirjson.Span, escaped bool, value fhirjson.Span) {
	v.m.Member(key.Of(v.data), escaped, value)
}
func (v *matcherVisitor) End(int) { v.got = append(v.got, v.m.Result()) }

// agreeWithMatch checks that a Matcher fed the members of each resource of
// the searchset body answers what Match answers of the resource's bytes.
func agreeWithMatch(t *testing.T, q *Query, body []byte) {
	t.Helper()
	r, err := fhirjson.Scan(body)
	if err != nil {
		return
	}
	b, err := r.Bundle()
	if err != nil {
		return // refused whole by the guard
	}
	v := &matcherVisitor{q: q, data: body}
	var again fhirjson.Resource
	if err := fhirjson.ScanInto(&again, body, fhirjson.Options{Visitor: v}); err != nil {
		t.Fatalf("a second scan fails: %v", err)
	}
	k := 0
	for i, e := range b.Entries {
		if e.ResourcePresence != fhirjson.Present {
			continue
		}
		ok, err := q.Match(e.Resource.Of(body))
		if want := ok && err == nil; v.got[k] != want {
			t.Fatalf("entry %d of %s: Matcher = %v, Match = %v, %v", i, body, v.got[k], ok, err)
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

var matcherQueries = []struct{ typ, query string }{
	{"Observation", "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"},
	{"Observation", "category=laboratory&status=final"},
	{"Observation", "code:not=2823-3,x"},
	{"Observation", "value-quantity=le5.4|http://unitsofmeasure.org|mg"},
	{"Observation", "date=ge2013-01-01"},
	{"Observation", "subject=Patient/123&performer:missing=false"},
	{"Observation", "component-value-quantity=gt100|http://unitsofmeasure.org|mm[Hg]"},
	{"Patient", "name=eve&gender=male"},
	{"Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053"},
	{"Condition", "onset-date=sa2013-01-01"},
}

func TestMatcherAgreesWithMatch(t *testing.T) {
	lab := `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}`
	resources := []string{
		observation, patient, condition, string(bigObservation(t)),
		`{"resourceType":"Observation","status":"final","category":[` + lab + `]}`,
		`{"category":[` + lab + `],"resourceType":"Observation"}`,
		`{"resourceType":"Observation","category":[` + lab + `],"Category":[]}`,
		`{"resourceType":"Observation","category":[` + lab + `],"category":[` + lab + `]}`,
		`{"resourceType":"Observation","resourceType":"Observation","category":[` + lab + `]}`,
		`{"resourceType":"Obs\u0065rvation","category":[` + lab + `]}`,
		`{"resourceType":"Observation","cat\u0065gory":[` + lab + `]}`,
		`{"resourceType":"Observation","ResourceType":"x","category":[` + lab + `]}`,
		`{"resourceType":7,"category":[` + lab + `]}`,
		`{"resourceType":"Observation","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","Code":"x"}]}]}`,
		`{"resourceType":"Observation","category":[[[[` + lab + `]]]]}`,
		`{"resourceType":"Patient","name":[{"given":["Eve"]}],"gender":"male"}`,
		`{}`,
	}
	for _, mq := range matcherQueries {
		q, err := Parse(mq.typ, mq.query, opts)
		if err != nil {
			t.Fatalf("%s?%s: %v", mq.typ, mq.query, err)
		}
		agreeWithMatch(t, q, searchsetOf(resources...))
		for _, r := range resources {
			agreeWithMatch(t, q, searchsetOf(r))
		}
	}
}

// FuzzMatcher checks that a Matcher fed a resource's members by the scan
// of a searchset that holds it answers as Match does of its bytes.
func FuzzMatcher(f *testing.F) {
	f.Add(uint8(0), []byte(observation))
	f.Add(uint8(1), []byte(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"code":"laboratory"}]}]}`))
	f.Add(uint8(7), []byte(patient))
	f.Fuzz(func(t *testing.T, which uint8, resource []byte) {
		mq := matcherQueries[int(which)%len(matcherQueries)]
		q, err := Parse(mq.typ, mq.query, opts)
		if err != nil {
			t.Fatal(err)
		}
		agreeWithMatch(t, q, searchsetOf(string(resource)))
	})
}
