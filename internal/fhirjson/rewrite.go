package fhirjson

import (
	"io"
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

// Rewrite returns the Bundle without the entries marked by Drop. When no
// entry is marked it returns the body scanned, unchanged (total and extra
// are then ignored: a Bundle is rewritten only when something is left
// out). Otherwise it returns a new body, the one scanned with these
// changes, the rest byte for byte:
//   - "entry" holds the entries kept, in their order, then extra, when
//     not nil (the raw JSON of one more entry, such as one with an
//     OperationOutcome that says results were withheld); with nothing
//     left in it, "entry" is removed;
//   - "total", when the Bundle has one, is removed when total is NoTotal
//     (it would count what the client may not see), or set to total.
//
// Decoded with encoding/json, the result equals the body decoded, then
// changed in the same way. Rewrite fails with ErrSyntax, ErrDepth or
// ErrUnreadable when extra is not one well-formed JSON object.
func (b *Bundle) Rewrite(total int, extra []byte) ([]byte, error) {
	if b.dropped == 0 {
		return b.data, nil
	}
	if err := checkExtra(extra); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b.data)+len(extra)+24)
	err := b.splice(total, extra, func(p []byte) error {
		out = append(out, p...)
		return nil
	})
	return out, err
}

// WriteRewrite writes to w what Rewrite returns, in pieces of the body
// scanned, without building it in memory: a filtered Bundle costs no copy
// of it. It returns the number of bytes written, and Rewrite's errors
// (before writing anything) or w's.
func (b *Bundle) WriteRewrite(w io.Writer, total int, extra []byte) (int64, error) {
	if b.dropped == 0 {
		n, err := w.Write(b.data)
		return int64(n), err
	}
	if err := checkExtra(extra); err != nil {
		return 0, err
	}
	var n int64
	err := b.splice(total, extra, func(p []byte) error {
		if len(p) == 0 {
			return nil
		}
		k, err := w.Write(p)
		n += int64(k)
		return err
	})
	return n, err
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
)

// splice calls emit with the pieces of the rewritten Bundle, in order.
func (b *Bundle) splice(total int, extra []byte, emit func([]byte) error) error {
	// At most two edits of the Bundle object, its "entry" and its
	// "total", in the order they come.
	const (
		cut = iota
		entries
		number
	)
	type edit struct{ start, end, kind int }
	var edits [2]edit
	n := 0
	remove := extra == nil && b.dropped == len(b.Entries)
	if remove {
		start, end := b.removal(&b.entry, total == NoTotal && b.total.found)
		edits[n] = edit{start, end, cut}
	} else {
		edits[n] = edit{b.entry.value.Start, b.entry.value.End, entries}
	}
	n++
	if b.total.found {
		if total == NoTotal {
			start, end := b.removal(&b.total, remove)
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
		case entries:
			err = b.spliceEntries(extra, emit)
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
// side by side is one piece of the body, with the separators it had.
func (b *Bundle) spliceEntries(extra []byte, emit func([]byte) error) error {
	if err := emit(openArray); err != nil {
		return err
	}
	first := true
	for i := 0; i < len(b.Entries); {
		if b.Entries[i].drop {
			i++
			continue
		}
		j := i
		for j+1 < len(b.Entries) && !b.Entries[j+1].drop {
			j++
		}
		if !first {
			if err := emit(comma); err != nil {
				return err
			}
		}
		first = false
		if err := emit(b.data[b.Entries[i].Span.Start:b.Entries[j].Span.End]); err != nil {
			return err
		}
		i = j + 1
	}
	if extra != nil {
		if !first {
			if err := emit(comma); err != nil {
				return err
			}
		}
		if err := emit(extra); err != nil {
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
