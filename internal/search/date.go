package search

import (
	"math"
	"time"
)

// A point in time, in microseconds since the Unix epoch, UTC.
// Ranges are inclusive at both ends: [lo, hi].
const (
	minTime = math.MinInt64
	maxTime = math.MaxInt64
)

type timeRange struct{ lo, hi int64 }

// parseDate reads a FHIR date, dateTime or instant (or a search value of
// the date type: "hh:mm" without seconds is allowed) and returns the range
// its precision implies: a year, a month, a day, a minute, a second, or the
// fraction of a second written. A value without a time zone is taken as
// UTC. point makes a value a point (an instant, R4: "an interval with an
// effective width of 0").
func parseDate(b []byte, point bool) (timeRange, bool) {
	num := func(i, n int) (int, bool) {
		if i+n > len(b) {
			return 0, false
		}
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok := num(0, 4)
	if !ok || year == 0 {
		return timeRange{}, false
	}
	month, day, hour, minute, sec, nsec := 1, 1, 0, 0, 0, 0
	var next func(t time.Time) time.Time
	i := 4
	switch {
	case len(b) == 4:
		next = func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }
	case len(b) == 7 && b[4] == '-':
		if month, ok = num(5, 2); !ok || month < 1 || month > 12 {
			return timeRange{}, false
		}
		next = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	case len(b) >= 10 && b[4] == '-' && b[7] == '-':
		if month, ok = num(5, 2); !ok || month < 1 || month > 12 {
			return timeRange{}, false
		}
		if day, ok = num(8, 2); !ok || day < 1 || day > daysIn(year, month) {
			return timeRange{}, false
		}
		i = 10
		if len(b) == 10 {
			next = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
			break
		}
		if len(b) < 16 || b[10] != 'T' || b[13] != ':' {
			return timeRange{}, false
		}
		if hour, ok = num(11, 2); !ok || hour > 23 {
			return timeRange{}, false
		}
		if minute, ok = num(14, 2); !ok || minute > 59 {
			return timeRange{}, false
		}
		i = 16
		width := int64(60e6)
		if i < len(b) && b[i] == ':' {
			if sec, ok = num(17, 2); !ok || sec > 60 {
				return timeRange{}, false
			}
			i = 19
			width = 1e6
			if i < len(b) && b[i] == '.' {
				i++
				digits := 0
				scale := int64(1e6)
				for i < len(b) && '0' <= b[i] && b[i] <= '9' {
					if digits < 9 {
						nsec = nsec*10 + int(b[i]-'0')
						if scale > 1 {
							scale /= 10
						}
					}
					digits++
					i++
				}
				if digits == 0 {
					return timeRange{}, false
				}
				for d := digits; d < 9; d++ {
					nsec *= 10
				}
				width = scale
			}
		}
		offset := 0
		if i < len(b) {
			switch b[i] {
			case 'Z':
				i++
			case '+', '-', ' ': // ' ': a "+" read from a URL query as a space
				oh, ok1 := num(i+1, 2)
				om, ok2 := num(i+4, 2)
				if !ok1 || !ok2 || i+3 >= len(b) || b[i+3] != ':' || oh > 14 || om > 59 {
					return timeRange{}, false
				}
				offset = (oh*60 + om) * 60
				if b[i] == '-' {
					offset = -offset
				}
				i += 6
			default:
				return timeRange{}, false
			}
		}
		if i != len(b) {
			return timeRange{}, false
		}
		t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
		lo := t.UnixMicro() - int64(offset)*1e6
		if point {
			return timeRange{lo, lo}, true
		}
		return timeRange{lo, lo + width - 1}, true
	default:
		return timeRange{}, false
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	return timeRange{t.UnixMicro(), next(t).UnixMicro() - 1}, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// prefix is a comparison prefix of the number, date and quantity types.
type prefix uint8

const (
	pEq prefix = iota
	pNe
	pGt
	pLt
	pGe
	pLe
	pSa
	pEb
	pAp
)

// cutPrefix splits a search value into its prefix (eq when none) and the
// rest.
func cutPrefix(v string) (prefix, string) {
	if len(v) >= 2 {
		for i, p := range [...]string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"} {
			if v[:2] == p {
				return prefix(i), v[2:]
			}
		}
	}
	return pEq, v
}

// dateAlt is one alternative of a date parameter.
type dateAlt struct {
	p prefix
	r timeRange // for ap, already widened
}

// matches applies R4's range rules for the prefixes: s is the range of
// the search value, t the target's.
func (a dateAlt) matches(t timeRange) bool {
	s := a.r
	contains := s.lo <= t.lo && t.hi <= s.hi
	switch a.p {
	case pEq:
		return contains
	case pNe:
		return !contains
	case pGt: // the range above the search value intersects the target
		return t.hi > s.hi
	case pLt:
		return t.lo < s.lo
	case pGe:
		return t.hi > s.hi || contains
	case pLe:
		return t.lo < s.lo || contains
	case pSa: // no overlap, and the range above contains the target
		return t.lo > s.hi
	case pEb:
		return t.hi < s.lo
	case pAp: // the (widened) range overlaps the target
		return s.lo <= t.hi && t.lo <= s.hi
	}
	return false
}

// widen returns r widened on both sides by a tenth of the gap between now
// and r, R4's recommended approximation for ap on dates.
func widen(r timeRange, now time.Time) timeRange {
	n := now.UnixMicro()
	gap := n - r.lo
	if r.hi < n {
		gap = n - r.hi
	}
	if gap < 0 {
		gap = -gap
	}
	d := gap / 10
	return timeRange{r.lo - d, r.hi + d}
}
