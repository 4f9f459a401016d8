package fhirjson_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// recorder is a Visitor that writes down what it is told.
type recorder struct {
	data []byte
	log  []string
}

func (r *recorder) Begin(n int) { r.log = append(r.log, fmt.Sprint("begin ", n)) }
func (r *recorder) Member(key fhirjson.Span, escaped bool, v fhirjson.Span) {
	r.log = append(r.log, fmt.Sprintf("member %q %v %s", key.Of(r.data), escaped, v.Of(r.data)))
}
func (r *recorder) End(n int) { r.log = append(r.log, fmt.Sprint("end ", n)) }

// membersOf is what a Visitor should be told of the entries of body, read
// with a Cursor: each resource's members, key and value, in order.
func membersOf(t *testing.T, body []byte, b *fhirjson.Bundle) []string {
	t.Helper()
	var log []string
	for n, e := range b.Entries {
		if e.ResourcePresence != fhirjson.Present {
			continue
		}
		log = append(log, fmt.Sprint("begin ", n))
		c := fhirjson.NewCursor(body)
		c = c.At(e.Resource.Start)
		if !c.OpenObject(0) {
			t.Fatalf("entry %d: no object at its resource", n)
		}
		for first := true; ; first = false {
			key, esc := []byte(nil), false
			switch c.Peek() {
			case '}':
				c.Expect('}')
			case ',', '"':
				if !first {
					c.Expect(',')
				}
				key, esc = c.RawString()
				c.Expect(':')
			}
			if key == nil {
				break
			}
			start := c.Pos()
			start += len(body[start:]) - len(bytes.TrimLeft(body[start:], " \t\r\n"))
			c.Skip(1)
			log = append(log, fmt.Sprintf("member %q %v %s", key, esc, body[start:c.Pos()]))
		}
		if c.Failed() {
			t.Fatalf("entry %d: resource unreadable", n)
		}
		log = append(log, fmt.Sprint("end ", n))
	}
	return log
}

func checkVisitor(t *testing.T, body []byte) {
	t.Helper()
	r, err := fhirjson.Scan(body)
	if err != nil {
		return
	}
	b, err := r.Bundle()
	if err != nil {
		return
	}
	rec := &recorder{data: body}
	var again fhirjson.Resource
	if err := fhirjson.ScanInto(&again, body, fhirjson.Options{Visitor: rec}); err != nil {
		t.Fatalf("ScanInto with a Visitor: %v, Scan: nil", err)
	}
	if want := membersOf(t, body, b); !reflect.DeepEqual(rec.log, want) {
		t.Fatalf("%s: the Visitor was told\n%q\nwant\n%q", body, rec.log, want)
	}
}

func TestVisitorIsToldEachResourceMember(t *testing.T) {
	for _, body := range []string{
		string(searchset(3, false)),
		string(searchset(2, true)),
		`{"resourceType":"Bundle","entry":[{"resource":null},{"resource":{}},{"resource":{ "a" : [1,{"b":2}] , "\u0062":"x\"y" }}]}`,
		`{"entry":[{"search":{"mode":"match"},"resource":{"resourceType":"Patient","id":"1"}}],"resourceType":"Bundle"}`,
	} {
		checkVisitor(t, []byte(body))
	}
}

// FuzzVisitor checks that a Visitor is told the members of every entry's
// resource of a Bundle Scan reads, and nothing else.
func FuzzVisitor(f *testing.F) {
	f.Add(searchset(2, false))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"a" : 1 ,"b":{}}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkVisitor(t, body) })
}

// TestScanIntoReusesAResource checks that a Resource scanned into again
// holds what Scan returns for the new body, whatever it held and was
// marked with before.
func TestScanIntoReusesAResource(t *testing.T) {
	bodies := [][]byte{
		searchset(20, false),
		[]byte(`{"resourceType":"Patient","id":"1"}`),
		searchset(3, true),
		[]byte(`{"resourceType":"Bundle","type":"batch-response","total":2,"entry":[{"response":{"status":"204"}}]}`),
		searchset(1, false),
	}
	var r fhirjson.Resource
	for i, body := range bodies {
		if err := fhirjson.ScanInto(&r, body, fhirjson.Options{}); err != nil {
			t.Fatal(err)
		}
		want, err := fhirjson.Scan(body)
		if err != nil {
			t.Fatal(err)
		}
		if r.Type != want.Type {
			t.Fatalf("body %d: Type %q, want %q", i, r.Type, want.Type)
		}
		b, err1 := r.Bundle()
		wb, err2 := want.Bundle()
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("body %d: Bundle %v, want %v", i, err1, err2)
		}
		if err1 != nil {
			continue
		}
		got, _ := b.Rewrite(fhirjson.NoTotal, nil)
		exp, _ := wb.Rewrite(fhirjson.NoTotal, nil)
		if !bytes.Equal(got, exp) || !reflect.DeepEqual(b.Entries, wb.Entries) || b.Type != wb.Type || b.Total != wb.Total {
			t.Fatalf("body %d: scanned into a used Resource, %+v; want %+v", i, b, wb)
		}
		// Marks that must not survive the next scan.
		if len(b.Entries) > 0 {
			b.Drop(0)
			b.Replace(len(b.Entries)-1, []byte(`{}`))
			b.Insert(0, []byte(`{"x":1}`))
		}
	}
}
