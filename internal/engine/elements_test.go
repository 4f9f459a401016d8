package engine

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// elementsCase is a request with _elements or _summary under a grant:
// what the handler must see, and what the client gets.
type elementsCase struct {
	name            string
	scopes, patient string
	method, target  string
	form            string
	status          int      // the answer's status
	why             string   // for a refusal: in its description
	want            []string // for a search: the matches; for a read: the resource's id
	seenQuery       string   // when not empty: the query the handler saw
	seenForm        string   // when not empty: the form body the handler saw ("-": none)
	total           int      // for _summary=count: the total (else 0: not checked)
}

const notSocial = "patient/Observation.rs?category:not=" + socCat

var elementsCases = []elementsCase{
	{name: "_elements gains the compartment references", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_elements=code", status: 200, want: all123,
		seenQuery: "patient=123&_elements=code,subject,performer"},
	{name: "_elements naming them already is left alone", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_elements=performer,code,subject", status: 200, want: all123,
		seenQuery: "patient=123&_elements=performer,code,subject"},
	{name: "_elements of a narrowed search", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?_elements=code", status: 200, want: all123,
		seenQuery: "patient=Patient%2F123&_elements=code,subject,performer"},
	{name: "_elements repeated become one", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?_elements=code&patient=123&_elements=status,code", status: 200, want: all123,
		seenQuery: "patient=123&_elements=code,status,subject,performer"},
	{name: "_elements escaped", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&%5Felements=code", status: 200, want: all123,
		seenQuery: "patient=123&_elements=code,subject,performer"},
	{name: "_elements of a read", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation/o2?_elements=code", status: 200, want: []string{"o2"}, seenQuery: "_elements=code,subject,performer"},
	{name: "_elements of a Patient read keeps its id", scopes: "patient/Patient.r", patient: "123",
		target: "Patient/123?_elements=name", status: 200, want: []string{"123"}, seenQuery: "_elements=name,id"},
	{name: "_elements naming nothing the guard reads, granular", scopes: "patient/Observation.rs?category=" + labCat, patient: "123",
		target: "Observation?patient=123&_elements=valueString", status: 200, want: lab123},
	{name: "_elements cannot hide the category a :not scope excludes", scopes: notSocial, patient: "123",
		target: "Observation/o3?_elements=code,subject", status: 403},
	{name: "_elements under a :not scope, a resource it allows", scopes: notSocial, patient: "123",
		target: "Observation/o1?_elements=code", status: 200, want: []string{"o1"}},
	{name: "_elements under a :not scope, a search", scopes: notSocial, patient: "123",
		target: "Observation?_elements=code,subject", status: 200, want: []string{"o1", "o2", "o4", "o7"}},
	{name: "_elements in the form of a POST _search move to the URL", scopes: "patient/Observation.rs", patient: "123",
		method: "POST", target: "Observation/_search", form: "_elements=code&code=http%3A%2F%2Floinc.org%7C2339-0", status: 200,
		want: []string{"o1", "o7"}, seenQuery: "patient=Patient%2F123&_elements=code,subject,performer",
		seenForm: "code=http%3A%2F%2Floinc.org%7C2339-0"},
	{name: "_summary=text becomes _elements", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=text", status: 200, want: all123,
		seenQuery: "patient=123&_elements=text,id,meta,subject,performer"},
	{name: "_summary=text on a Patient is left alone", scopes: "patient/Patient.rs", patient: "123",
		target: "Patient?_id=123&_summary=text", status: 200, want: []string{"123"}, seenQuery: "_id=123&_summary=text"},
	{name: "_summary=true would hide the compartment", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=true", status: 400, why: "_summary=true could leave out subject, performer"},
	{name: "_summary=TRUE in another case", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=TRUE", status: 400, why: "_summary=true"},
	{name: "_summary=true on a Patient is left alone", scopes: "patient/Patient.rs", patient: "123",
		target: "Patient?_id=123&_summary=true", status: 200, want: []string{"123"}, seenQuery: "_id=123&_summary=true"},
	{name: "_summary=data is left alone", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=data", status: 200, want: all123, seenQuery: "patient=123&_summary=data"},
	{name: "_summary=count of a narrowed search counts the patient's", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?_summary=count", status: 200, total: 5, seenQuery: "_summary=count&patient=Patient%2F123"},
	{name: "_summary=count under two categories counts them", scopes: "patient/Observation.rs?category=" + labCat + " patient/Observation.rs?category=" + vitCat, patient: "123",
		target: "Observation?patient=123&_summary=count", status: 200, total: 3},
	{name: "_summary=count under a category and a code is refused", scopes: "patient/Observation.rs?category=" + labCat + " patient/Observation.rs?code=http://loinc.org|8480-6", patient: "123",
		target: "Observation?patient=123&_summary=count", status: 400, why: "_summary=count cannot be answered"},
	{name: "_summary=count with _elements", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=count&_elements=code", status: 200, total: 5},
	{name: "_summary given twice", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=count&_summary=true", status: 400},
	{name: "_summary with a list", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=count,true", status: 400},
	{name: "_summary unknown", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=maybe", status: 400},
	{name: "_summary=text with _elements", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_summary=text&_elements=code", status: 400},
	{name: "_elements:exclude", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_elements:exclude=subject", status: 400},
	{name: "_Elements in another case", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_Elements=code", status: 400},
	{name: "_elements with a trailing space", scopes: "patient/Observation.rs", patient: "123",
		target: "Observation?patient=123&_elements%20=code", status: 400},
	{name: "_elements with _include", scopes: "patient/Observation.rs patient/Practitioner.rs", patient: "123",
		target: "Observation?patient=123&_include=Observation:performer&_elements=code", status: 400, why: "_include"},
	{name: "_elements of every type of the compartment", scopes: "patient/*.rs", patient: "123",
		target: "Patient/123/*?_elements=code", status: 400, why: "not allowed on this request"},
	{name: "_summary=true of $everything", scopes: "patient/*.rs", patient: "123",
		target: "Patient/123/$everything?_summary=true", status: 400},
	{name: "HEAD with _elements", scopes: "patient/Observation.rs", patient: "123", method: "HEAD",
		target: "Observation?_elements=code", status: 200, seenQuery: "patient=Patient%2F123&_elements=code,subject,performer"},
	{name: "unrestricted user scopes are left alone", scopes: "user/Observation.rs",
		target: "Observation?_summary=true", status: 200, seenQuery: "_summary=true",
		want: []string{"o1", "o2", "o3", "o4", "o5", "o6", "o7"}},
}

// TestElementsAndSummaryLeaveTheGuardWhatItReads: _elements and _summary
// never take from the guard the elements it reads, so that they neither
// withhold the patient's own resources (a 200 with nothing but the
// withheld notice) nor let through one that a ":not" scope excludes; what
// cannot be made so is refused with a 400 that says why. The store here
// applies _elements and _summary as FHIR says.
func TestElementsAndSummaryLeaveTheGuardWhatItReads(t *testing.T) {
	for _, tc := range elementsCases {
		t.Run(tc.name, func(t *testing.T) {
			a := testEngine(t, nil)
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			s := serve(t, a, testGrant(tc.scopes, tc.patient, ""), newRequest(method, tc.target, tc.form), honestStore(t))
			if s.code != tc.status || !strings.Contains(s.body, tc.why) {
				t.Fatalf("%d %s, want %d with %q (the handler saw %q)", s.code, s.body, tc.status, tc.why, s.seen)
			}
			if tc.status != 200 {
				if tc.status == 400 && s.seen != nil {
					t.Errorf("the handler saw %q", s.seen)
				}
				return
			}
			if tc.seenQuery != "" || tc.seenForm != "" {
				if len(s.seen) != 1 {
					t.Fatalf("the handler saw %q", s.seen)
				}
				_, rest, _ := strings.Cut(s.seen[0], "?")
				query, form, _ := strings.Cut(rest, " ")
				if tc.seenQuery != "" && query != tc.seenQuery {
					t.Errorf("the handler saw the query %q, want %q", query, tc.seenQuery)
				}
				if tc.seenForm != "" && strings.TrimPrefix(tc.seenForm, "-") != form {
					t.Errorf("the handler saw the form %q, want %q", form, tc.seenForm)
				}
			}
			if method == http.MethodHead {
				return
			}
			an := readAnswer(t, s.body)
			switch {
			case tc.total != 0:
				if an.total != tc.total || len(an.ids) != 0 {
					t.Errorf("count: total %d, entries %v, want %d", an.total, an.ids, tc.total)
				}
			case strings.Contains(s.body, `"Bundle"`):
				if !slices.Equal(an.ids, tc.want) || an.withheld {
					t.Errorf("matches %v (withheld %v), want %v: %s", an.ids, an.withheld, tc.want, s.body)
				}
			default:
				if !strings.Contains(s.body, `"id":"`+tc.want[0]+`"`) {
					t.Errorf("read: %s, want %s", s.body, tc.want[0])
				}
			}
		})
	}
}

// TestElementsAreAddedToBatchEntries: a search entry of a batch with
// _elements is forwarded with the guard's elements added to its URL.
func TestElementsAreAddedToBatchEntries(t *testing.T) {
	const batch = `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?_elements=code"}}]}`
	a := testEngine(t, nil)
	r := newRequest("POST", "", batch)
	if _, status, err := decideStatus(t, a, testGrant("patient/Observation.rs", "123", ""), r); status != 200 {
		t.Fatalf("%d: %v", status, err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := r.Body.Read(buf)
	b.Write(buf[:n])
	u := `Observation?patient=Patient%2F123\u0026_elements=code,subject,performer`
	if !strings.Contains(b.String(), `"url":"`+u+`"`) {
		t.Errorf("forwarded %s", b.String())
	}
	if _, err := url.ParseQuery(strings.ReplaceAll(u, `\u0026`, "&")); err != nil {
		t.Error(err)
	}
}
