package compartment

import (
	"encoding/json"
	"strings"
	"testing"
)

// refMember is a slow reference for Member built on encoding/json: a
// resource is a member when a compartment path holds a reference to the
// patient.
func refMember(data []byte, patientID string) (bool, bool) {
	var res map[string]any
	if json.Unmarshal(data, &res) != nil {
		return false, false
	}
	typ, _ := res["resourceType"].(string)
	if typ == "Patient" {
		id, _ := res["id"].(string)
		return patientID != "" && id == patientID, true
	}
	for _, code := range patientParams[typ] {
		for _, path := range params[typ][code].Paths {
			path, _ = strings.CutSuffix(path, "@Patient")
			if refAt(res, strings.Split(path, "."), patientID) {
				return true, true
			}
		}
	}
	return false, true
}

func refAt(v any, path []string, patientID string) bool {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if refAt(e, path, patientID) {
				return true
			}
		}
	case map[string]any:
		if len(path) == 0 {
			ref, _ := v["reference"].(string)
			return RefersTo(ref, patientID)
		}
		return refAt(v[path[0]], path[1:], patientID)
	}
	return false
}

// FuzzMemberAgreesWithEncodingJSON: whenever Member allows, a standard
// JSON decoder reads the same resource as a member too. The scanner may
// refuse more (duplicate keys, escaped keys), never allow more.
func FuzzMemberAgreesWithEncodingJSON(f *testing.F) {
	f.Add([]byte(observation), "123")
	f.Add([]byte(`{"resourceType":"AllergyIntolerance","recorder":{"reference":"Patient/5"}}`), "5")
	f.Add([]byte(`{"resourceType":"Appointment","participant":[{"actor":{"reference":"Patient/1"}}]}`), "1")
	f.Add([]byte(`{"resourceType":"Patient","id":"1"}`), "1")
	f.Add([]byte(`{"resourceType":"Observation","subject":{"reference":"Patient\/1"},"note":[{"text":"a\"b"}]}`), "1")
	f.Fuzz(func(t *testing.T, data []byte, patientID string) {
		got, err := Member(data, patientID)
		if err != nil || !got {
			return
		}
		want, valid := refMember(data, patientID)
		if !valid {
			// Lenient skipping may accept JSON a strict decoder refuses;
			// a strict server refuses it too. Only what the checks read
			// must agree.
			return
		}
		if !want {
			t.Fatalf("Member allows %q for %q; encoding/json disagrees", data, patientID)
		}
	})
}

func TestMemberAgreesOnSeeds(t *testing.T) {
	for _, tc := range []struct{ data, id string }{{observation, "123"}, {observation, "9"}} {
		got, _ := Member([]byte(tc.data), tc.id)
		want, _ := refMember([]byte(tc.data), tc.id)
		if got != want {
			t.Errorf("%q: Member %v, reference %v", tc.id, got, want)
		}
	}
}

// refMatch is a slow reference for matchToken built on encoding/json.
func refMatch(data []byte, name, value string) (bool, bool) {
	var res map[string]any
	if json.Unmarshal(data, &res) != nil {
		return false, false
	}
	typ, _ := res["resourceType"].(string)
	p, ok := params[typ][name]
	if !ok || p.Reference {
		return false, true
	}
	for _, path := range p.Paths {
		if tokenAt(res, strings.Split(path, "."), value) {
			return true, true
		}
	}
	return false, true
}

func tokenAt(v any, path []string, value string) bool {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if tokenAt(e, path, value) {
				return true
			}
		}
	case string:
		if len(path) == 0 {
			for alt := range strings.SplitSeq(value, ",") {
				if !strings.Contains(alt, "|") && alt == v {
					return true
				}
			}
		}
	case map[string]any:
		if len(path) > 0 {
			return tokenAt(v[path[0]], path[1:], value)
		}
		return codingAt(v, value)
	}
	return false
}

func codingAt(m map[string]any, value string) bool {
	if codings, ok := m["coding"].([]any); ok {
		for _, c := range codings {
			if cm, ok := c.(map[string]any); ok && codingAt(cm, value) {
				return true
			}
		}
	}
	code, hasCode := m["code"].(string)
	system, hasSystem := m["system"].(string)
	return hasCode && tokenMatches(value, hasSystem, []byte(system), []byte(code))
}

// FuzzMatchAgreesWithEncodingJSON: whenever MatchConstraint matches, a
// standard JSON decoder reads a match too.
func FuzzMatchAgreesWithEncodingJSON(f *testing.F) {
	f.Add([]byte(observation), "category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory")
	f.Add([]byte(observation), "code", "http://loinc.org|2339-0")
	f.Add([]byte(observation), "status", "final")
	f.Add([]byte(`{"resourceType":"Basic","code":{"coding":[{"system":"s","code":"c"}],"coding":[]}}`), "code", "s|c")
	f.Fuzz(func(t *testing.T, data []byte, name, value string) {
		got, err := matchToken(data, []byte("Observation"), name, value)
		if err != nil || !got {
			return
		}
		want, valid := refMatch(data, name, value)
		if valid && !want {
			t.Fatalf("matchToken matches %q for %s=%s; encoding/json disagrees", data, name, value)
		}
	})
}
