package fhirstore

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// statuses returns response.status of each entry of a batch or
// transaction response.
func statuses(t *testing.T, b map[string]any) []string {
	t.Helper()
	var out []string
	for _, e := range b["entry"].([]any) {
		out = append(out, e.(map[string]any)["response"].(map[string]any)["status"].(string))
	}
	return out
}

// location returns response.location of entry i.
func location(t *testing.T, b map[string]any, i int) string {
	t.Helper()
	loc, _ := b["entry"].([]any)[i].(map[string]any)["response"].(map[string]any)["location"].(string)
	return loc
}

// versions returns how many versions the store holds, as system history
// counts them.
func versions(s *server) float64 {
	s.t.Helper()
	return s.must(200, "GET", "/fhir/_history?_count=0", "").json(s.t)["total"].(float64)
}

func TestTransactionResolvesURNReferences(t *testing.T) {
	s := newServer(t)
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:0a1b2c3d-0000-4000-8000-000000000001","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
	   "subject":{"reference":"urn:uuid:0a1b2c3d-0000-4000-8000-000000000002"},
	   "hasMember":[{"reference":"Observation/example-glucose"}]},
	  "request":{"method":"POST","url":"Observation"}},
	 {"fullUrl":"urn:uuid:0a1b2c3d-0000-4000-8000-000000000002","resource":{"resourceType":"Patient","name":[{"family":"New"}],
	   "generalPractitioner":[{"reference":"Practitioner?family=Jones"}]},
	  "request":{"method":"POST","url":"Patient"}},
	 {"resource":{"resourceType":"Goal","id":"example-hba1c-goal","lifecycleStatus":"active","description":{"text":"x"},
	   "subject":{"reference":"urn:uuid:0a1b2c3d-0000-4000-8000-000000000002"}},
	  "request":{"method":"PUT","url":"Goal/example-hba1c-goal"}},
	 {"request":{"method":"GET","url":"Goal/example-hba1c-goal"}}
	]}`
	b := s.must(200, "POST", "/fhir", tx).json(t)
	if b["type"] != "transaction-response" {
		t.Fatalf("type %v", b["type"])
	}
	if got := statuses(t, b); !slices.Equal(got, []string{"201 Created", "201 Created", "200 OK", "200 OK"}) {
		t.Errorf("statuses %v", got)
	}
	obsLoc, patLoc := location(t, b, 0), location(t, b, 1)
	patRef := strings.TrimPrefix(patLoc[:strings.Index(patLoc, "/_history")], testBase+"/")
	obs := s.must(200, "GET", relative(t, obsLoc), "").body
	if !strings.Contains(obs, `"subject":{"reference":"`+patRef+`"}`) {
		t.Errorf("the Observation's subject is not %s: %s", patRef, obs)
	}
	if !strings.Contains(obs, `"reference":"Observation/example-glucose"`) {
		t.Errorf("a plain reference was changed: %s", obs)
	}
	if pat := s.must(200, "GET", relative(t, patLoc), "").body; !strings.Contains(pat, `"reference":"Practitioner/dr-jones"`) {
		t.Errorf("the conditional reference was not resolved: %s", pat)
	}
	if goal := s.must(200, "GET", "/fhir/Goal/example-hba1c-goal", "").body; !strings.Contains(goal, `"reference":"`+patRef+`"`) {
		t.Errorf("the update's reference was not resolved: %s", goal)
	}
	// The read ran after the update, as R4 orders a transaction.
	if got := b["entry"].([]any)[3].(map[string]any)["resource"].(map[string]any)["subject"]; got.(map[string]any)["reference"] != patRef {
		t.Errorf("the read in the transaction saw %v, not the update", got)
	}
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	tests := []struct {
		name  string
		entry string // the entry that fails, after a create and an update that succeed
		want  int
	}{
		{"stale If-Match", `{"resource":{"resourceType":"Condition","id":"third-asthma"},"request":{"method":"PUT","url":"Condition/third-asthma","ifMatch":"W/\"9\""}}`, 412},
		{"conditional delete of several", `{"request":{"method":"DELETE","url":"Observation?patient=third"}}`, 412},
		{"read of what is not there", `{"request":{"method":"GET","url":"Observation/nope"}}`, 404},
		{"urn:uuid naming no entry", `{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:0a1b2c3d-0000-4000-8000-00000000dead"}},"request":{"method":"POST","url":"Observation"}}`, 400},
		{"conditional reference finding several", `{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?active=true"}},"request":{"method":"POST","url":"Observation"}}`, 412},
		{"patch that does not apply", `{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` +
			base64.StdEncoding.EncodeToString([]byte(`[{"op":"test","path":"/status","value":"preliminary"}]`)) + `"},"request":{"method":"PATCH","url":"Observation/third-weight"}}`, 409},
		{"create without a resource", `{"request":{"method":"POST","url":"Observation"}}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			before := versions(s)
			tx := `{"resourceType":"Bundle","type":"transaction","entry":[
			 {"fullUrl":"urn:uuid:0a1b2c3d-0000-4000-8000-000000000001","resource":{"resourceType":"Goal","lifecycleStatus":"proposed","description":{"text":"tx"},"subject":{"reference":"Patient/third"}},"request":{"method":"POST","url":"Goal"}},
			 {"resource":{"resourceType":"Observation","id":"third-weight","status":"amended","code":{"text":"x"},"subject":{"reference":"Patient/third"}},"request":{"method":"PUT","url":"Observation/third-weight"}},
			 {"request":{"method":"DELETE","url":"MedicationRequest/third-albuterol"}},
			 ` + tc.entry + `]}`
			outcome(t, s.do(s.all, "POST", "/fhir", tx), tc.want)
			if after := versions(s); after != before {
				t.Errorf("the store holds %v versions after the failed transaction, %v before", after, before)
			}
			s.must(200, "GET", "/fhir/MedicationRequest/third-albuterol", "")
			if w := s.must(200, "GET", "/fhir/Observation/third-weight", "").body; !strings.Contains(w, `"status":"final"`) {
				t.Errorf("the update stayed: %s", w)
			}
			if n := count(s, "Goal?lifecycle-status=proposed"); n != 0 {
				t.Errorf("the create stayed (%d)", n)
			}
		})
	}
}

func TestBatchAnswersEachEntry(t *testing.T) {
	s := newServer(t)
	batch := `{"resourceType":"Bundle","type":"batch","entry":[
	 {"request":{"method":"GET","url":"Patient/example"}},
	 {"request":{"method":"GET","url":"Patient/nobody"}},
	 {"resource":{"resourceType":"Goal","lifecycleStatus":"proposed","description":{"text":"batch"},"subject":{"reference":"Patient/third"}},"request":{"method":"POST","url":"Goal"}},
	 {"resource":{"resourceType":"Goal","lifecycleStatus":"proposed","description":{"text":"dup"},"subject":{"reference":"Patient/third"}},"request":{"method":"POST","url":"Goal","ifNoneExist":"subject=Patient/example"}},
	 {"resource":{"resourceType":"Observation","id":"third-weight","status":"amended"},"request":{"method":"PUT","url":"Observation/third-weight","ifMatch":"W/\"5\""}},
	 {"request":{"method":"GET","url":"Observation?patient=third&_summary=count"}}
	]}`
	b := s.must(200, "POST", "/fhir", batch).json(t)
	if b["type"] != "batch-response" {
		t.Fatalf("type %v", b["type"])
	}
	want := []string{"200 OK", "404 Not Found", "201 Created", "200 OK", "412 Precondition Failed", "200 OK"}
	if got := statuses(t, b); !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	entries := b["entry"].([]any)
	if oo := entries[1].(map[string]any)["response"].(map[string]any)["outcome"]; oo == nil {
		t.Errorf("a failed entry has no outcome")
	}
	if n := count(s, "Goal?lifecycle-status=proposed"); n != 1 {
		t.Errorf("the batch's create did not stay although another entry failed: %d", n)
	}
}
