package fhirjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// scanBundle scans body, a Bundle the guard can read.
func scanBundle(t *testing.T, body []byte) *fhirjson.Bundle {
	t.Helper()
	r, err := fhirjson.Scan(body)
	if err != nil {
		t.Fatalf("Scan(%s) = %v", body, err)
	}
	b, err := r.Bundle()
	if err != nil {
		t.Fatalf("Bundle(%s) = %v", body, err)
	}
	return b
}

// checkRewrite checks that out is well-formed JSON that decodes to what
// the guard's encoding/json path would have made of body.
func checkRewrite(t *testing.T, body, out []byte, drop []int, total int, extra []byte) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("Rewrite(%s) = %s: not JSON", body, out)
	}
	want, err := refRewrite(body, func(i int) bool { return slices.Contains(drop, i) }, total, extra)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := decode(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Rewrite(%s)\n = %s\ndecodes to %v\nwant %v", body, out, got, want)
	}
}

func TestRewrite(t *testing.T) {
	const (
		a = `{"resource":{"resourceType":"Observation","id":"a"}}`
		b = `{"resource":{"resourceType":"Observation","id":"b"}}`
		c = `{"resource":{"resourceType":"Observation","id":"c"}}`
		x = `{"resource":{"resourceType":"OperationOutcome","issue":[]},"search":{"mode":"outcome"}}`
	)
	tests := []struct {
		name  string
		body  string
		drop  []int
		total int
		extra string
		want  string
	}{
		{name: "one dropped, total removed", drop: []int{1}, total: fhirjson.NoTotal,
			body: `{"resourceType":"Bundle","type":"searchset","total":3,"entry":[` + a + `,` + b + `,` + c + `]}`,
			want: `{"resourceType":"Bundle","type":"searchset","entry":[` + a + `,` + c + `]}`},
		{name: "first and last dropped, total set", drop: []int{0, 2}, total: 1,
			body: `{"resourceType":"Bundle","type":"searchset","total":3,"entry":[` + a + `,` + b + `,` + c + `]}`,
			want: `{"resourceType":"Bundle","type":"searchset","total":1,"entry":[` + b + `]}`},
		{name: "all dropped: entry and total go", drop: []int{0, 1}, total: fhirjson.NoTotal,
			body: `{"resourceType":"Bundle","type":"searchset","total":2,"entry":[` + a + `,` + b + `]}`,
			want: `{"resourceType":"Bundle","type":"searchset"}`},
		{name: "all dropped, entry last after total", drop: []int{0}, total: fhirjson.NoTotal,
			body: `{"resourceType":"Bundle","total":1,"entry":[` + a + `]}`,
			want: `{"resourceType":"Bundle"}`},
		{name: "all dropped, total and entry first", drop: []int{0}, total: fhirjson.NoTotal,
			body: `{"total":1,"entry":[` + a + `],"resourceType":"Bundle"}`,
			want: `{"resourceType":"Bundle"}`},
		{name: "all dropped, entry first and total last", drop: []int{0}, total: fhirjson.NoTotal,
			body: `{"entry":[` + a + `],"resourceType":"Bundle","total":1}`,
			want: `{"resourceType":"Bundle"}`},
		{name: "all dropped, extra appended", drop: []int{0, 1}, total: 0, extra: x,
			body: `{"resourceType":"Bundle","type":"searchset","total":2,"entry":[` + a + `,` + b + `]}`,
			want: `{"resourceType":"Bundle","type":"searchset","total":0,"entry":[` + x + `]}`},
		{name: "extra after the kept", drop: []int{0}, total: fhirjson.NoTotal, extra: x,
			body: `{"resourceType":"Bundle","type":"searchset","entry":[` + a + `,` + b + `]}`,
			want: `{"resourceType":"Bundle","type":"searchset","entry":[` + b + `,` + x + `]}`},
		{name: "no total: none added", drop: []int{0}, total: 5,
			body: `{"resourceType":"Bundle","entry":[` + a + `,` + b + `]}`,
			want: `{"resourceType":"Bundle","entry":[` + b + `]}`},
		{name: "pretty", drop: []int{0}, total: fhirjson.NoTotal,
			body: "{\n  \"resourceType\": \"Bundle\",\n  \"total\": 2,\n  \"entry\": [\n    " + a + ",\n    " + b + "\n  ]\n}\n",
			want: "{\n  \"resourceType\": \"Bundle\",\n  \"entry\": [" + b + "]\n}\n"},
		{name: "pretty, all dropped", drop: []int{0}, total: fhirjson.NoTotal,
			body: "{\n  \"resourceType\": \"Bundle\" ,\n  \"total\" : 1 ,\n  \"entry\" : [ " + a + " ]\n}",
			want: "{\n  \"resourceType\": \"Bundle\"\n}"},
		{name: "escaped keys kept", drop: []int{1}, total: fhirjson.NoTotal,
			body: `{"resourceType":"Bundle","tot\u0061l":2,"\u0065ntry":[` + a + `,` + b + `]}`,
			want: `{"resourceType":"Bundle","\u0065ntry":[` + a + `]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			bundle := scanBundle(t, body)
			for _, i := range tc.drop {
				bundle.Drop(i)
				bundle.Drop(i) // twice is once
			}
			if bundle.Dropped() != len(tc.drop) {
				t.Fatalf("Dropped = %d, want %d", bundle.Dropped(), len(tc.drop))
			}
			var extra []byte
			if tc.extra != "" {
				extra = []byte(tc.extra)
			}
			out, err := bundle.Rewrite(tc.total, extra)
			if err != nil || string(out) != tc.want {
				t.Fatalf("Rewrite = %s, %v\nwant %s", out, err, tc.want)
			}
			checkRewrite(t, body, out, tc.drop, tc.total, extra)
			checkWriteRewrite(t, bundle, out, tc.total, extra)
		})
	}
}

// checkWriteRewrite checks that WriteRewrite writes what Rewrite returned.
func checkWriteRewrite(t *testing.T, bundle *fhirjson.Bundle, want []byte, total int, extra []byte) {
	t.Helper()
	var buf bytes.Buffer
	n, err := bundle.WriteRewrite(&buf, total, extra)
	if err != nil || n != int64(buf.Len()) || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteRewrite = %d, %v, wrote %s\nRewrite returned %s", n, err, buf.Bytes(), want)
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

var errWrite = errors.New("write failed")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errWrite
	}
	w.n -= len(p)
	return len(p), nil
}

// WriteRewrite stops at the first write error and reports it with the
// bytes written.
func TestWriteRewriteReportsWriteErrors(t *testing.T) {
	bundle := scanBundle(t, searchset(5, false))
	bundle.Drop(1)
	bundle.Drop(3)
	out, err := bundle.Rewrite(fhirjson.NoTotal, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 1, 100, len(out) / 2, len(out) - 1} {
		n, err := bundle.WriteRewrite(&failingWriter{n: limit}, fhirjson.NoTotal, nil)
		if !errors.Is(err, errWrite) || n != int64(limit) {
			t.Errorf("limit %d: WriteRewrite = %d, %v; want %d, errWrite", limit, n, err, limit)
		}
	}
}

// WriteRewrite sends a filtered Bundle without a copy of it: what it
// allocates does not depend on the Bundle's size.
func TestWriteRewriteDoesNotCopyTheBundle(t *testing.T) {
	for _, body := range [][]byte{searchset(20, false), searchset(100, true)} {
		bundle := scanBundle(t, body)
		for i := range bundle.Entries {
			if i%2 == 0 {
				bundle.Drop(i)
			}
		}
		if n := testing.AllocsPerRun(20, func() {
			if _, err := bundle.WriteRewrite(io.Discard, 10, nil); err != nil {
				t.Fatal(err)
			}
		}); n > 2 {
			t.Errorf("%d bytes: %v allocations", len(body), n)
		}
	}
}

// A Bundle is rewritten only when an entry is dropped: otherwise the body
// itself comes back, total and extra ignored.
func TestRewriteWithNothingDroppedReturnsTheBody(t *testing.T) {
	body := searchset(3, false)
	bundle := scanBundle(t, body)
	out, err := bundle.Rewrite(1, []byte(`{}`))
	if err != nil || len(out) != len(body) || &out[0] != &body[0] {
		t.Fatalf("Rewrite = %.40s..., %v; want the body itself", out, err)
	}
	checkWriteRewrite(t, bundle, body, 1, []byte(`{}`))
}

// total and entry are removed with the right commas wherever they sit
// among the Bundle's members.
func TestRewriteInEveryMemberOrder(t *testing.T) {
	members := []string{`"resourceType":"Bundle"`, `"type":"searchset"`, `"total":2`, `"entry":[{"resource":{"resourceType":"Observation","id":"a"}},{"fullUrl":"b"}]`, `"link":[]`}
	var permute func(k int)
	permute = func(k int) {
		if k == len(members) {
			body := []byte("{" + strings.Join(members, ",") + "}")
			for _, drop := range [][]int{{0}, {1}, {0, 1}} {
				for _, total := range []int{fhirjson.NoTotal, 7} {
					for _, extra := range [][]byte{nil, []byte(`{"fullUrl":"x"}`)} {
						bundle := scanBundle(t, body)
						for _, i := range drop {
							bundle.Drop(i)
						}
						out, err := bundle.Rewrite(total, extra)
						if err != nil {
							t.Fatal(err)
						}
						checkRewrite(t, body, out, drop, total, extra)
						checkWriteRewrite(t, bundle, out, total, extra)
					}
				}
			}
			return
		}
		for i := k; i < len(members); i++ {
			members[k], members[i] = members[i], members[k]
			permute(k + 1)
			members[k], members[i] = members[i], members[k]
		}
	}
	permute(0)
}

func TestRewriteRefusesAnExtraThatIsNotAnObject(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  error
	}{
		{"array", `[]`, fhirjson.ErrUnreadable},
		{"string", `"x"`, fhirjson.ErrUnreadable},
		{"open", `{`, fhirjson.ErrSyntax},
		{"two objects", `{} {}`, fhirjson.ErrSyntax},
		{"empty", ``, fhirjson.ErrSyntax},
		{"deep", strings.Repeat(`{"a":`, fhirjson.MaxDepth+1), fhirjson.ErrDepth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bundle := scanBundle(t, searchset(2, false))
			bundle.Drop(0)
			if out, err := bundle.Rewrite(fhirjson.NoTotal, []byte(tc.extra)); !errors.Is(err, tc.want) {
				t.Fatalf("Rewrite = %.40s, %v; want %v", out, err, tc.want)
			}
			var buf bytes.Buffer
			if n, err := bundle.WriteRewrite(&buf, fhirjson.NoTotal, []byte(tc.extra)); !errors.Is(err, tc.want) || n != 0 || buf.Len() != 0 {
				t.Fatalf("WriteRewrite = %d, %v; want nothing written, %v", n, err, tc.want)
			}
		})
	}
}
