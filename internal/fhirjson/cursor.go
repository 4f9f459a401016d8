package fhirjson

// Cursor reads a JSON text value by value, without building values, for
// a reader that follows some paths into a resource (internal/compartment,
// internal/search) and skips the rest. What it reads it validates as
// encoding/json's Valid would, with nesting bounded by MaxDepth, so that a
// resource that is not JSON is refused whole, whatever its reader looks
// at.
//
// The first error puts the cursor at the end of its data and every later
// read fails: a reader checks [Cursor.Failed] (or [Cursor.End]) once,
// after it is done. Objects and arrays are read with an iterator:
//
//	if c.OpenObject(depth) {
//		for first := true; ; first = false {
//			key, ok := c.NextKey(first)
//			if !ok {
//				break
//			}
//			// read the value at c (its depth is depth+1), or c.Skip(depth+1)
//		}
//	}
//
// Every method that reads a value takes its depth, the number of
// containers it is inside (0 for the top-level value), and refuses a
// container that would be deeper than MaxDepth: a reader that recurses as
// it opens containers is bounded too.
//
// Keys are refused when they hold an escape: no FHIR element name needs
// one, and a key that decodes to one a reader looks for must not pass
// for another. A reader refuses keys that fold to one it reads
// ([FoldsTo]) and keys it reads given twice ([Cursor.Fields] does both).
//
// A Cursor is a value: a copy reads on from the same place without moving
// the original, which is how a reader looks at a value twice.
type Cursor struct {
	data []byte
	i    int
	bad  bool
}

// NewCursor returns a Cursor at the start of data.
func NewCursor(data []byte) Cursor { return Cursor{data: data} }

// At returns a Cursor on the same data at offset i (a value's offset,
// as Pos or Fields gave it).
func (c *Cursor) At(i int) Cursor { return Cursor{data: c.data, i: i} }

// Pos returns the offset in the data of the next byte to read.
func (c *Cursor) Pos() int { return c.i }

// Fail marks the data as refused: the cursor moves to the end, and every
// later read fails.
func (c *Cursor) Fail() { c.bad = true; c.i = len(c.data) }

// Failed reports whether a read failed (or Fail was called).
func (c *Cursor) Failed() bool { return c.bad }

// Peek skips white space and returns the next byte, the first of the next
// value or token, or 0 at the end.
func (c *Cursor) Peek() byte {
	c.i = skipSpace(c.data, c.i)
	if c.i >= len(c.data) {
		return 0
	}
	return c.data[c.i]
}

// End reports whether nothing failed and only white space follows: a
// reader calls it after the top-level value.
func (c *Cursor) End() bool {
	c.i = skipSpace(c.data, c.i)
	return !c.bad && c.i == len(c.data)
}

// Expect reads the byte b, after white space, or fails.
func (c *Cursor) Expect(b byte) bool {
	if c.Peek() != b {
		c.Fail()
		return false
	}
	c.i++
	return true
}

// Skip reads any value, inside depth containers, validating it.
func (c *Cursor) Skip(depth int) {
	end, err := SkipValue(c.data, c.i, depth)
	if err != nil {
		c.Fail()
		return
	}
	c.i = end
}

// RawString reads a string and returns its content between the quotes,
// undecoded (in the data, not a copy), and whether it holds a backslash
// escape. It fails for anything but a well-formed string.
func (c *Cursor) RawString() (raw []byte, escaped bool) {
	if c.Peek() != '"' {
		c.Fail()
		return nil, false
	}
	end, esc := SkipString(c.data, c.i+1)
	if end < 0 {
		c.Fail()
		return nil, false
	}
	raw = c.data[c.i+1 : end-1]
	c.i = end
	return raw, esc
}

// Text reads a string value, inside depth containers, and returns its
// content: the bytes in the data when it holds no escape (the usual case,
// which allocates nothing), decoded as encoding/json decodes it otherwise
// ([DecodeString]). Bytes of invalid UTF-8 in a string without escapes
// are returned as they are, where encoding/json reads U+FFFD: such a
// string equals no string of valid UTF-8, where its decoding could equal
// one holding U+FFFD, and equals itself, where its decoding does not (see
// internal/compartment's readable). For a value of another type, ok is
// false: the value is skipped (validated), and the cursor does not fail.
func (c *Cursor) Text(depth int) (b []byte, ok bool) {
	if c.Peek() != '"' {
		c.Skip(depth)
		return nil, false
	}
	raw, esc := c.RawString()
	if c.bad {
		return nil, false
	}
	if !esc {
		return raw, true
	}
	return []byte(unquote(raw)), true
}

// Number reads a number and returns its bytes. It fails for anything
// else.
func (c *Cursor) Number() []byte {
	start := skipSpace(c.data, c.i)
	end := -1
	if start < len(c.data) {
		end = skipNumber(c.data, start)
	}
	if end < 0 {
		c.Fail()
		return nil
	}
	c.i = end
	return c.data[start:end]
}

// OpenObject reads the '{' of an object inside depth containers. It fails
// for another value and when depth is MaxDepth or more: the object's
// members are inside depth+1 containers.
func (c *Cursor) OpenObject(depth int) bool { return c.open('{', depth) }

// OpenArray reads the '[' of an array inside depth containers, as
// OpenObject does.
func (c *Cursor) OpenArray(depth int) bool { return c.open('[', depth) }

func (c *Cursor) open(b byte, depth int) bool {
	if depth >= MaxDepth || !c.Expect(b) {
		c.Fail()
		return false
	}
	return true
}

// NextKey moves to the next member of the object opened last: it returns
// the member's key (its raw content, in the data), with the cursor on the
// value, or ok false after the closing '}'. first is true for the first
// call after OpenObject. A key holding an escape is refused.
func (c *Cursor) NextKey(first bool) (key []byte, ok bool) {
	switch c.Peek() {
	case '}':
		c.i++
		return nil, false
	case ',':
		if first {
			c.Fail()
			return nil, false
		}
		c.i++
	default:
		if !first {
			c.Fail()
			return nil, false
		}
	}
	key, esc := c.RawString()
	if esc {
		c.Fail()
	}
	if !c.Expect(':') {
		return nil, false
	}
	return key, !c.bad
}

// PlainMember reads, when the next member of the object opened last is
// exactly `"name":"..."` (first is NextKey's: no comma before the first
// member, one before the others), with no white space and a string of
// plain content (no backslash, no control byte), that member, and returns
// the string's content, as NextKey and Text would read it. Otherwise it
// reads nothing and returns false: the reader goes on with NextKey. It is
// the shape most members a reader looks for have, read without a pass
// per token.
func (c *Cursor) PlainMember(first bool, name string) (value []byte, ok bool) {
	d, i := c.data, c.i
	if !first {
		if i >= len(d) || d[i] != ',' {
			return nil, false
		}
		i++
	}
	if len(d)-i < len(name)+4 || d[i] != '"' || string(d[i+1:i+1+len(name)]) != name {
		return nil, false
	}
	i += 1 + len(name)
	if d[i] != '"' || d[i+1] != ':' || d[i+2] != '"' {
		return nil, false
	}
	start := i + 3
	end := start
	for end < len(d) && d[end] >= 0x20 && d[end] != '"' && d[end] != '\\' {
		end++
	}
	if end >= len(d) || d[end] != '"' {
		return nil, false
	}
	c.i = end + 1
	return d[start:end], true
}

// NextElem moves to the next element of the array opened last, with the
// cursor on it, or returns false after the closing ']'. first is true for
// the first call after OpenArray.
func (c *Cursor) NextElem(first bool) bool {
	switch c.Peek() {
	case ']':
		c.i++
		return false
	case ',':
		if first {
			c.Fail()
			return false
		}
		c.i++
		if b := c.Peek(); b == ']' || b == 0 {
			c.Fail()
			return false
		}
	case 0:
		c.Fail()
		return false
	default:
		if !first {
			c.Fail()
			return false
		}
	}
	return !c.bad
}

// Fields reads the object at the cursor, inside depth containers, and
// records in offs, for each of names, the offset of its member's value
// (-1 when absent): At(offs[i]) reads it. A name given twice, or a key
// that is not one of names but equal to one under Unicode case folding
// ([FoldsTo]), fails, as decoders could read another member than the one
// recorded. Other members are skipped (validated); unlike [Members],
// their keys may repeat. len(offs) is len(names).
func (c *Cursor) Fields(depth int, names []string, offs []int) {
	for i := range offs {
		offs[i] = -1
	}
	if !c.OpenObject(depth) {
		return
	}
	for first := true; ; first = false {
		key, ok := c.NextKey(first)
		if !ok {
			return
		}
		for i, name := range names {
			if !MayFold(key, name) {
				continue // most keys, at the cost of a comparison
			}
			if string(key) == name {
				if offs[i] >= 0 {
					c.Fail()
					return
				}
				offs[i] = skipSpace(c.data, c.i)
				break
			}
			if FoldsTo(key, name) {
				c.Fail()
				return
			}
		}
		c.Skip(depth + 1)
	}
}

// LeadingType returns the resourceType of the resource in data when it is
// the object's first member, as it nearly always is, so that a reader can
// choose its paths before its one pass; nil otherwise (another first key,
// a key with an escape, a value that is not a string, not an object).
// Nothing after the value is read: the caller's pass validates the rest
// and reads resourceType again as a member, refusing it twice.
func LeadingType(data []byte) []byte {
	c := NewCursor(data)
	if !c.OpenObject(0) {
		return nil
	}
	key, ok := c.NextKey(true)
	if !ok || string(key) != "resourceType" {
		return nil
	}
	typ, _ := c.Text(1)
	return typ
}
