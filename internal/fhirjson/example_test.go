package fhirjson_test

import (
	"fmt"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// The guard scans a searchset, decides on each entry, and writes the
// Bundle again without the entries it refuses.
func Example() {
	body := []byte(`{"resourceType":"Bundle","type":"searchset","total":2,"entry":[` +
		`{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/1"}},"search":{"mode":"match"}},` +
		`{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/2"}},"search":{"mode":"match"}}]}`)
	r, err := fhirjson.Scan(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := r.Bundle()
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, e := range b.Entries {
		fmt.Println(i, e.ResourceType, e.SearchMode, len(e.Resource.Of(body)))
		if i == 1 { // say the guard refuses the second one
			b.Drop(i)
		}
	}
	out, err := b.Rewrite(fhirjson.NoTotal, nil)
	fmt.Println(string(out), err)
	// Output:
	// 0 Observation match 66
	// 1 Observation match 66
	// {"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/1"}},"search":{"mode":"match"}}]} <nil>
}
