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
	for _, code := range Params(typ) {
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

// encoding/json reads invalid UTF-8 as U+FFFD, so no reference or id a Go
// server decodes names a patient whose id is not valid UTF-8: none does
// here either, though the checks compare bytes (a seed of
// FuzzMemberAgreesWithEncodingJSON).
func TestPatientIDOfInvalidUTF8MatchesNothing(t *testing.T) {
	for _, body := range []string{
		"{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/\xff23\"}}",
		"{\"resourceType\":\"Patient\",\"id\":\"\xff23\"}",
	} {
		if ok, err := Member([]byte(body), "\xff23"); ok || err != nil {
			t.Errorf("Member(%q) = %v, %v", body, ok, err)
		}
		ok, contains, err := MemberOfContains([]byte(body), "Observation", "\xff23", AnyServer)
		if ok || contains {
			t.Errorf("MemberOfContains(%q) = %v, %v, %v", body, ok, contains, err)
		}
	}
	// Valid UTF-8 beyond ASCII reads the same either way.
	body := []byte(`{"resourceType":"Observation","subject":{"reference":"Patient/é23"}}`)
	if ok, err := Member(body, "é23"); !ok || err != nil {
		t.Errorf("Member(%q) = %v, %v", body, ok, err)
	}
}
