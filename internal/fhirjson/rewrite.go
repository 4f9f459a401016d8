package fhirjson

import (
	"io"
	"slices"
	"strconv"
)

// NoTotal, as Rewrite's total, removes the Bundle's "total".
const NoTotal = -1

// Drop marks entry i (an index of b.Entries) to be left out by Rewrite.
func (b *Bundle) Drop(i int) {
	if !b.Entries[i].drop {
		b.Entries[i].drop = true
		b.dropped++
	}
}

// Dropped returns the number of entries marked by Drop.
func (b *Bundle) Dropped() int { return b.dropped }

// Replace marks entry i (an index of b.Entries) to be written by Rewrite
// as the concatenation of pieces, in place of its bytes: one JSON object,
// such as the entry with its resource replaced (the entry's bytes before
// its Resource, another resource, the entry's bytes after it). An entry
// also marked by Drop is left out. The pieces are kept, not copied, and
// not checked: they must make one JSON object.
func (b *Bundle) Replace(i int, pieces ...[]byte) {
	_ = b.Entries[i] // in range
	r := replacement{i: i, pieces: append(make([][]byte, 0, len(pieces)), pieces...)}
	k := len(b.replaced)
	for k > 0 && b.replaced[k-1].i >= i {
		k--
	}
	if k < len(b.replaced) && b.replaced[k].i == i {
		b.replaced[k] = r
		return
	}
	b.replaced = slices.Insert(b.replaced, k, r)
}

// Insert marks raw, the JSON object of one more entry, to be written by
// Rewrite before entry i, or after the last entry when i is
// len(b.Entries) (and before Rewrite's extra), whether or not entry i is
// dropped. Entries inserted at one place are written in the order of the
// calls. raw is kept, not copied, and not checked: it must be one JSON
// object.
func (b *Bundle) Insert(i int, raw []byte) {
	if i < 0 || i > len(b.Entries) {
		panic("fhirjson: Insert at " + strconv.Itoa(i) + " in a Bundle of " + strconv.Itoa(len(b.Entries)) + " entries")
	}
	k := len(b.inserts)
	for k > 0 && b.inserts[k-1].at > i {
		k--
	}
	b.inserts = slices.Insert(b.inserts, k, insertion{at: i, raw: raw})
}

// Edited reports whether an entry was marked by Drop, Replace or Insert:
// whether Rewrite returns another body than the one scanned.
func (b *Bundle) Edited() bool { return b.dropped > 0 || len(b.replaced) > 0 || len(b.inserts) > 0 }

// Rewrite returns the Bundle with the entries marked by Drop, Replace and
// Insert changed. When no entry is marked it returns the body scanned,
// unchanged (total and extra are then ignored: a Bundle is rewritten only
// when its entries change). Otherwise it returns a new body, the one
// scanned with these changes, the rest byte for byte:
//   - "entry" holds the entries kept, in their order, each as Replace
//     marked it, with those Insert marked in their places, then extra,
//     when not nil (the raw JSON of one more entry, such as one with an
//     OperationOutcome that says results were withheld); with nothing
//     left in it, "entry" is removed, and without an "entry" member
//     one is added for the entries inserted or extra;
//   - "total", when the Bundle has one, is removed when total is NoTotal
//     (it would count what the client may not see), or set to total.
//
// Decoded with encoding/json, the result equals the body decoded, then
// changed in the same way. Rewrite fails with ErrSyntax, ErrDepth or
// ErrUnreadable when extra is not one well-formed JSON object.
func (b *Bundle) Rewrite(total int, extra []byte) ([]byte, error) {
	if !b.Edited() {
		return b.data, nil
	}
	if err := checkExtra(extra); err != nil {
		return nil, err
	}
	size := len(b.data) + len(extra) + 24
	for _, in := range b.inserts {
		size += len(in.raw) + 1
	}
	for _, r := range b.replaced {
		for _, p := range r.pieces {
			size += len(p)
		}
	}
	out := make([]byte, 0, size)
	err := b.splice(total, extra, true, func(p []byte) error {
		out = append(out, p...)
		return nil
	})
	return out, err
}

// WriteRewrite writes to w what Rewrite returns, in pieces of the body
// scanned (and of those Replace and Insert were given), without building
// it in memory: a filtered Bundle costs no copy of it. It returns the
// number of bytes written, and Rewrite's errors (before writing anything)
// or w's.
func (b *Bundle) WriteRewrite(w io.Writer, total int, extra []byte) (int64, error) {
	if !b.Edited() {
		n, err := w.Write(b.data)
		return int64(n), err
	}
	if err := checkExtra(extra); err != nil {
		return 0, err
	}
	var n int64
	err := b.splice(total, extra, true, func(p []byte) error {
		if len(p) == 0 {
			return nil
		}
		k, err := w.Write(p)
		n += int64(k)
		return err
	})
	return n, err
}

// WithoutTotal returns the body scanned without the Bundle's "total", the
// rest byte for byte, whatever its entries are marked with: the body
// itself when it has no "total". A search whose other pages hold what the
// client may not see loses its total this way, even when nothing is left
// out of this page.
func (b *Bundle) WithoutTotal() []byte {
	if !b.total.found {
		return b.data
	}
	out := make([]byte, 0, len(b.data))
	b.splice(NoTotal, nil, false, func(p []byte) error {
		out = append(out, p...)
		return nil
	})
	return out
}

// checkExtra checks that extra, when not nil, is one JSON object.
func checkExtra(extra []byte) error {
	if extra == nil {
		return nil
	}
	i := skipSpace(extra, 0)
	end, err := SkipValue(extra, i, 0)
	switch {
	case err != nil:
		return err
	case skipSpace(extra, end) != len(extra):
		return ErrSyntax
	case extra[i] != '{':
		return ErrUnreadable
	}
	return nil
}

var (
	openArray  = []byte("[")
	comma      = []byte(",")
	closeArray = []byte("]")
	entryKey   = []byte(`"entry":`)
)

// splice calls emit with the pieces of the rewritten Bundle, in order;
// with entries false, "entry" is left as it is.
func (b *Bundle) splice(total int, extra []byte, entries bool, emit func([]byte) error) error {
	// At most two edits of the Bundle object, its "entry" and its
	// "total", in the order they come.
	const (
		cut = iota
		array
		member
		number
	)
	type edit struct{ start, end, kind int }
	var edits [2]edit
	n := 0
	remove := extra == nil && len(b.inserts) == 0 && b.dropped == len(b.Entries)
	goes := entries && remove && b.entry.found // the "entry" member is removed
	switch {
	case !entries || remove && !b.entry.found:
	case goes:
		start, end := b.removal(&b.entry, total == NoTotal && b.total.found)
		edits[n] = edit{start, end, cut}
		n++
	case b.entry.found:
		edits[n] = edit{b.entry.value.Start, b.entry.value.End, array}
		n++
	default: // entries to add, and no "entry" to put them in
		edits[n] = edit{b.close, b.close, member}
		n++
	}
	if b.total.found {
		if total == NoTotal {
			start, end := b.removal(&b.total, goes)
			edits[n] = edit{start, end, cut}
		} else {
			edits[n] = edit{b.total.value.Start, b.total.value.End, number}
		}
		n++
	}
	if n == 2 && edits[1].start < edits[0].start {
		edits[0], edits[1] = edits[1], edits[0]
	}
	at := 0
	for _, e := range edits[:n] {
		if err := emit(b.data[at:e.start]); err != nil {
			return err
		}
		var err error
		switch e.kind {
		case array:
			err = b.spliceEntries(extra, emit)
		case member:
			others := b.members
			if b.total.found && total == NoTotal {
				others--
			}
			if others > 0 {
				if err = emit(comma); err != nil {
					return err
				}
			}
			if err = emit(entryKey); err == nil {
				err = b.spliceEntries(extra, emit)
			}
		case number:
			err = emit(strconv.AppendInt(nil, int64(total), 10))
		}
		if err != nil {
			return err
		}
		at = e.end
	}
	return emit(b.data[at:])
}

// spliceEntries emits the new value of "entry": each run of entries kept
// side by side, unchanged, is one piece of the body, with the separators
// it had.
func (b *Bundle) spliceEntries(extra []byte, emit func([]byte) error) error {
	if err := emit(openArray); err != nil {
		return err
	}
	first := true
	next := func(pieces ...[]byte) error {
		if !first {
			if err := emit(comma); err != nil {
				return err
			}
		}
		first = false
		for _, p := range pieces {
			if err := emit(p); err != nil {
				return err
			}
		}
		return nil
	}
	ins, repl := b.inserts, b.replaced
	for i := 0; i < len(b.Entries); {
		for len(ins) > 0 && ins[0].at <= i {
			if err := next(ins[0].raw); err != nil {
				return err
			}
			ins = ins[1:]
		}
		if len(repl) > 0 && repl[0].i == i {
			if !b.Entries[i].drop { // dropped wins
				if err := next(repl[0].pieces...); err != nil {
					return err
				}
			}
			repl = repl[1:]
			i++
			continue
		}
		if b.Entries[i].drop {
			i++
			continue
		}
		// A run of entries kept as they are, one piece of the body.
		j := i
		for j+1 < len(b.Entries) && !b.Entries[j+1].drop && (len(repl) == 0 || repl[0].i > j+1) &&
			(len(ins) == 0 || ins[0].at > j+1) {
			j++
		}
		if err := next(b.data[b.Entries[i].Span.Start:b.Entries[j].Span.End]); err != nil {
			return err
		}
		i = j + 1
	}
	for _, in := range ins {
		if err := next(in.raw); err != nil {
			return err
		}
	}
	if extra != nil {
		if err := next(extra); err != nil {
			return err
		}
	}
	return emit(closeArray)
}

// removal returns the bytes to cut to remove m from the Bundle object,
// with one comma, when the other member Rewrite may remove (entry for
// total, total for entry) goes too if both is true. A member with a kept
// member after it goes with the comma and space that follow it, up to the
// next key; the last member kept goes with the space and comma before it,
// from the previous value. Two members removed this way never claim the
// same comma, and leave no space behind.
func (b *Bundle) removal(m *member, both bool) (start, end int) {
	later := b.members - 1 - m.index // members after m
	if both {
		other := &b.total
		if m == &b.total {
			other = &b.entry
		}
		if other.index > m.index {
			later--
		}
	}
	switch {
	case later > 0:
		return m.start, m.next
	case m.prevEnd >= 0:
		return m.prevEnd, m.end
	default:
		return m.start, m.end
	}
}
