package fhirjson

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestElementsReadsEachValueOfAnArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  error
	}{
		{`[]`, nil, nil},
		{` [ 1 , "a" , {"b":[2]} , null ] `, []string{`1`, `"a"`, `{"b":[2]}`, `null`}, nil},
		{`{"a":1}`, nil, ErrUnreadable},
		{`"x"`, nil, ErrUnreadable},
		{`[1,]`, nil, ErrSyntax},
		{`[1 2]`, nil, ErrSyntax},
		{`[1]]`, nil, ErrSyntax},
		{`[`, nil, ErrUnreadable},
		{`[1`, nil, ErrSyntax},
	} {
		var got []string
		err := Elements([]byte(tc.in), func(s Span) error {
			got = append(got, string(s.Of([]byte(tc.in))))
			return nil
		})
		if tc.err != nil {
			if !errors.Is(err, tc.err) && !(tc.in == `[` && err != nil) {
				t.Errorf("%s: err = %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] || !json.Valid([]byte(got[i])) {
				t.Errorf("%s: element %d = %s, want %s", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func TestElementsStopsAtTheCallersError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Elements([]byte(`[1,2,3]`), func(Span) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err = %v after %d elements", err, n)
	}
}

func TestElementsIsBoundedInDepth(t *testing.T) {
	deep := make([]byte, 0, 2*MaxDepth+4)
	for range MaxDepth + 2 {
		deep = append(deep, '[')
	}
	for range MaxDepth + 2 {
		deep = append(deep, ']')
	}
	if err := Elements(deep, func(Span) error { return nil }); !errors.Is(err, ErrDepth) {
		t.Fatalf("err = %v, want ErrDepth", err)
	}
}
