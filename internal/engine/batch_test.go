package engine

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// batchStore answers a batch or transaction by serving each entry's
// request with inner, in order, as a FHIR server does.
func batchStore(t testing.TB, inner http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/fhir" && r.URL.Path != "/fhir/" {
			inner(w, r)
			return
		}
		var b struct {
			Type  string
			Entry []struct {
				Request struct{ Method, URL string }
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("the store got a batch it cannot read: %v", err)
			http.Error(w, "bad batch", http.StatusBadRequest)
			return
		}
		var out bytes.Buffer
		out.WriteString(`{"resourceType":"Bundle","type":"` + b.Type + `-response","entry":[`)
		for i, e := range b.Entry {
			rec := httptest.NewRecorder()
			inner(rec, httptest.NewRequest(e.Request.Method, "/fhir/"+e.Request.URL, nil))
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`{"resource":` + rec.Body.String() + `,"response":{"status":"200 OK"}}`)
		}
		out.WriteString(`]}`)
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(out.Bytes())
	}
}

// TestBatchSearchEntriesAreNarrowed: a search entry of a batch that does
// not name the patient is narrowed like a search on its own: the batch is
// forwarded with that entry's request.url replaced (the rest of the batch
// byte for byte), beside the entries refused in place. A store applying
// the URL answers exactly; a careless one is filtered entry by entry.
func TestBatchSearchEntriesAreNarrowed(t *testing.T) {
	const batch = `{"resourceType":"Bundle","type":"batch","entry":[` +
		`{"fullUrl":"urn:uuid:1","request":{"method":"GET","url":"Observation?code=http://loinc.org|2339-0"}},` +
		`{"request":{"method":"GET","url":"Patient/123"}},` +
		`{"request":{"method":"GET","url":"Observation?patient=456"}},` +
		`{"request":{"method":"GET","url":"` + testBase + `/Observation?category=` + labCat + `"}}]}`
	a := testEngine(t, nil)
	g := testGrant("patient/*.rs", "123", "")

	var forwarded string
	seeBatch := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/fhir" || r.URL.Path == "/fhir/" {
				b, _ := io.ReadAll(r.Body)
				forwarded = string(b)
				r.Body = io.NopCloser(bytes.NewReader(b))
			}
			next(w, r)
		}
	}
	s := serve(t, a, g, newRequest("POST", "", batch), seeBatch(batchStore(t, honestStore(t))))
	if s.code != 200 {
		t.Fatalf("%d: %s", s.code, s.body)
	}
	var fwd struct {
		Entry []struct {
			FullURL string
			Request struct{ Method, URL string }
		}
	}
	if err := json.Unmarshal([]byte(forwarded), &fwd); err != nil || len(fwd.Entry) != 3 {
		t.Fatalf("forwarded %v: %s", err, forwarded)
	}
	var urls []string
	for _, e := range fwd.Entry {
		urls = append(urls, e.Request.URL)
	}
	want := []string{"Observation?code=http://loinc.org|2339-0&patient=Patient%2F123", "Patient/123",
		"Observation?category=" + labCat + "&patient=Patient%2F123"}
	if !slices.Equal(urls, want) || fwd.Entry[0].FullURL != "urn:uuid:1" {
		t.Errorf("forwarded entries %q (fullUrl %q), want %q", urls, fwd.Entry[0].FullURL, want)
	}
	var resp struct {
		Entry []struct {
			Resource json.RawMessage
			Response struct{ Status string }
		}
	}
	if err := json.Unmarshal([]byte(s.body), &resp); err != nil || len(resp.Entry) != 4 {
		t.Fatalf("answer %v: %s", err, s.body)
	}
	if an := readAnswer(t, string(resp.Entry[0].Resource)); !slices.Equal(an.ids, []string{"o1", "o7"}) || an.total != 2 || an.withheld {
		t.Errorf("entry 0: %+v", an)
	}
	if !strings.HasPrefix(resp.Entry[2].Response.Status, "403") {
		t.Errorf("entry 2 (another patient) answered %q", resp.Entry[2].Response.Status)
	}
	if an := readAnswer(t, string(resp.Entry[3].Resource)); !slices.Equal(an.ids, []string{"o1", "o4"}) || an.total != 2 {
		t.Errorf("entry 3: %+v", an)
	}

	s = serve(t, a, g, newRequest("POST", "", batch), batchStore(t, carelessStore))
	if s.code != 200 || strings.Contains(s.body, "Patient/456") {
		t.Fatalf("careless store: %d %s", s.code, s.body)
	}

	refuse := testEngine(t, func(o *Options) { o.RefuseBroadSearches = true })
	s = serve(t, refuse, g, newRequest("POST", "", batch), batchStore(t, honestStore(t)))
	if err := json.Unmarshal([]byte(s.body), &resp); err != nil || len(resp.Entry) != 4 ||
		!strings.HasPrefix(resp.Entry[0].Response.Status, "403") || !strings.HasPrefix(resp.Entry[3].Response.Status, "403") {
		t.Errorf("RefuseBroadSearches: %d %s", s.code, s.body)
	}
}

// TestTransactionConditionalDeleteIsNarrowed: in a transaction, a
// conditional delete that does not name the patient is forwarded
// narrowed to the patient, so that it deletes nothing of anyone else's.
func TestTransactionConditionalDeleteIsNarrowed(t *testing.T) {
	const tx = `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Observation?code=http://loinc.org|2339-0"}}]}`
	a := testEngine(t, nil)
	r := newRequest("POST", "", tx)
	if _, status, err := decideStatus(t, a, testGrant("patient/Observation.ds", "123", ""), r); status != 200 {
		t.Fatalf("%d: %v", status, err)
	}
	b, _ := io.ReadAll(r.Body)
	want := `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Observation?code=http://loinc.org|2339-0\u0026patient=Patient%2F123"}}]}`
	if string(b) != want {
		t.Errorf("forwarded\n%s\nwant\n%s", b, want)
	}
}
