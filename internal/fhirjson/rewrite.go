package fhirjson

import (
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
	if extra != nil {
		i := skipSpace(extra, 0)
		if i >= len(extra) || extra[i] != '{' {
			if _, err := SkipValue(extra, i, 0); err != nil {
				return nil, err
			}
			return nil, ErrUnreadable
		}
		end, err := SkipValue(extra, i, 0)
		switch {
		case err != nil:
			return nil, err
		case skipSpace(extra, end) != len(extra):
			return nil, ErrSyntax
		}
	}

	// At most two edits of the Bundle object: its "entry" and its
	// "total", in the order they come.
	type edit struct {
		start, end int
		write      func(out []byte) []byte
	}
	var edits [2]edit
	n := 0
	remove := b.removeEntry(extra)
	if remove {
		start, end := b.removal(&b.entry, total == NoTotal && b.total.found)
		edits[n] = edit{start, end, nil}
	} else {
		edits[n] = edit{b.entry.value.Start, b.entry.value.End, func(out []byte) []byte {
			return b.appendEntries(out, extra)
		}}
	}
	n++
	if b.total.found {
		if total == NoTotal {
			start, end := b.removal(&b.total, remove)
			edits[n] = edit{start, end, nil}
		} else {
			edits[n] = edit{b.total.value.Start, b.total.value.End, func(out []byte) []byte {
				return strconv.AppendInt(out, int64(total), 10)
			}}
		}
		n++
	}
	slices.SortFunc(edits[:n], func(x, y edit) int { return x.start - y.start })

	out := make([]byte, 0, len(b.data)+len(extra)+24)
	at := 0
	for _, e := range edits[:n] {
		out = append(out, b.data[at:e.start]...)
		if e.write != nil {
			out = e.write(out)
		}
		at = e.end
	}
	return append(out, b.data[at:]...), nil
}

// removeEntry reports whether Rewrite removes "entry", because nothing is
// left in it.
func (b *Bundle) removeEntry(extra []byte) bool {
	return extra == nil && b.dropped == len(b.Entries)
}

// appendEntries appends the new value of "entry" to out.
func (b *Bundle) appendEntries(out, extra []byte) []byte {
	out = append(out, '[')
	first := true
	for _, e := range b.Entries {
		if e.drop {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, b.data[e.Span.Start:e.Span.End]...)
	}
	if extra != nil {
		if !first {
			out = append(out, ',')
		}
		out = append(out, extra...)
	}
	return append(out, ']')
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
