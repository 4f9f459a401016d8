package search

import (
	"math"
	"time"
)

// A point in time, in microseconds since the Unix epoch, UTC.
// Ranges are inclusive at both ends: [lo, hi]. minTime and maxTime stand
// for the open ends of a Period without start or end.
const (
	minTime = math.MinInt64
	maxTime = math.MaxInt64
)

// timeRange is the range of a date value: R4 search (search.html#date)
// treats every date, dateTime and Period as the range of time it covers,
// and the prefixes compare the range of the search value with the range
// of the target's. Microseconds are fine enough for any precision FHIR
// values carry in practice, and the ranges of years 1 to 9999 fit in an
// int64 with room to widen them for ap.
type timeRange struct{ lo, hi int64 }

// parseDate reads a FHIR date, dateTime or instant (or a search value of
// the date type: "hh:mm" without seconds is allowed) and returns the range
// its precision implies: a year, a month, a day, a minute, a second, or the
// fraction of a second written. A value without a time zone is taken as
// UTC. point makes a value a point (an instant, R4: "an interval with an
// effective width of 0").
//
// R4 search (search.html#date) compares ranges, not points: "2013-01-14"
// is the whole day [2013-01-14T00:00, 2013-01-15T00:00), so that eq finds
// every time written within it and gt only what lies after all of it.
// The exclusive end is stored as the microsecond before it.
func parseDate(b []byte, point bool) (timeRange, bool) {
	year, ok := digits(b, 0, 4)
	if !ok || year == 0 {
		return timeRange{}, false
	}
	switch {
	case len(b) == 4:
		return calendarRange(year, 1, 1, 1, 0, 0), true
	case len(b) == 7 && b[4] == '-':
		month, ok := digits(b, 5, 2)
		if !ok || month < 1 || month > 12 {
			return timeRange{}, false
		}
		return calendarRange(year, month, 1, 0, 1, 0), true
	case len(b) >= 10 && b[4] == '-' && b[7] == '-':
		month, ok := digits(b, 5, 2)
		if !ok || month < 1 || month > 12 {
			return timeRange{}, false
		}
		day, ok := digits(b, 8, 2)
		if !ok || day < 1 || day > daysIn(year, month) {
			return timeRange{}, false
		}
		if len(b) == 10 {
			return calendarRange(year, month, day, 0, 0, 1), true
		}
		return parseTimeOfDay(b, year, month, day, point)
	}
	return timeRange{}, false
}

// digits reads the n decimal digits at b[i:].
func digits(b []byte, i, n int) (int, bool) {
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

// calendarRange returns the range that starts at year-month-day, 00:00
// UTC, and lasts years, months and days: a year, a month or a day, whose
// lengths vary (leap years, months of 28 to 31 days), hence AddDate.
func calendarRange(year, month, day, years, months, days int) timeRange {
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	return timeRange{t.UnixMicro(), t.AddDate(years, months, days).UnixMicro() - 1}
}

// parseTimeOfDay reads the "Thh:mm[:ss[.fff]][zone]" after the date
// year-month-day at b[:10] and returns the range of the minute, second or
// fraction written, or the point when point is set. Seconds go to 60: a
// leap second is valid FHIR, and time.Date carries it into the next
// minute.
func parseTimeOfDay(b []byte, year, month, day int, point bool) (timeRange, bool) {
	if len(b) < 16 || b[10] != 'T' || b[13] != ':' {
		return timeRange{}, false
	}
	hour, ok := digits(b, 11, 2)
	if !ok || hour > 23 {
		return timeRange{}, false
	}
	minute, ok := digits(b, 14, 2)
	if !ok || minute > 59 {
		return timeRange{}, false
	}
	sec, nsec, i := 0, 0, 16
	width := int64(60e6) // of the precision written, in microseconds
	if i < len(b) && b[i] == ':' {
		if sec, ok = digits(b, 17, 2); !ok || sec > 60 {
			return timeRange{}, false
		}
		i, width = 19, 1e6
		if i < len(b) && b[i] == '.' {
			if nsec, width, i, ok = parseFraction(b, i+1); !ok {
				return timeRange{}, false
			}
		}
	}
	offset, ok := parseZone(b[i:])
	if !ok {
		return timeRange{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	lo := t.UnixMicro() - int64(offset)*1e6
	if point {
		return timeRange{lo, lo}, true
	}
	return timeRange{lo, lo + width - 1}, true
}

// parseFraction reads the digits of a fraction of a second at b[i:],
// keeping nanoseconds (digits past the ninth are read and dropped), and
// returns the width of its last digit in microseconds, at least 1: the
// ranges are in microseconds, so that "10:00:00.1234567" is the
// microsecond [10:00:00.123456, 10:00:00.123457).
func parseFraction(b []byte, i int) (nsec int, width int64, next int, ok bool) {
	n := 0
	width = 1e6
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		if n < 9 {
			nsec = nsec*10 + int(b[i]-'0')
			if width > 1 {
				width /= 10
			}
		}
		n++
		i++
	}
	if n == 0 {
		return 0, 0, 0, false
	}
	for d := n; d < 9; d++ {
		nsec *= 10
	}
	return nsec, width, i, true
}

// parseZone reads what ends a dateTime, z: nothing (UTC, as the package
// takes a time without a zone), "Z", or "+hh:mm" / "-hh:mm", and returns
// the offset east of UTC in seconds. A " " is read as "+": an unescaped
// "+" in a URL query decodes to a space.
func parseZone(z []byte) (offset int, ok bool) {
	if len(z) == 0 {
		return 0, true
	}
	switch z[0] {
	case 'Z':
		return 0, len(z) == 1
	case '+', '-', ' ':
		oh, ok1 := digits(z, 1, 2)
		om, ok2 := digits(z, 4, 2)
		if !ok1 || !ok2 || z[3] != ':' || oh > 14 || om > 59 || len(z) != 6 {
			return 0, false
		}
		offset = (oh*60 + om) * 60
		if z[0] == '-' {
			offset = -offset
		}
		return offset, true
	}
	return 0, false
}

// daysIn returns the number of days of the month: day 0 of the next
// month is its last.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// prefix is a comparison prefix of the number, date and quantity types
// (R4 search.html#prefix). Each compares the range of the search value
// (its implicit precision) with the range of the target value; see
// dateAlt.matches and numAlt.matches for the two ways they are applied.
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
// rest. The values of the three types start with a digit or a sign, so
// two letters are always a prefix; any other two letters are left in the
// value, which then fails to parse.
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

// matches applies R4's range rules for the prefixes (search.html#prefix):
// s is the range of the search value, t the target's. Ranges, not points,
// are compared: eq2013 is true of 2013-05-01, which the year contains, and
// false of the Period 2012-12-01 to 2013-02-01, which it does not; ne2013
// is true of that Period, and gt2013 is true of a Period only if it ends
// after 2013.
func (a dateAlt) matches(t timeRange) bool {
	s := a.r
	contains := s.lo <= t.lo && t.hi <= s.hi
	switch a.p {
	case pEq: // the range of the search value fully contains the target's
		return contains
	case pNe:
		return !contains
	case pGt: // the range above the search value intersects the target
		return t.hi > s.hi
	case pLt: // the range below the search value intersects the target
		return t.lo < s.lo
	case pGe: // gt, or the search value contains the target
		return t.hi > s.hi || contains
	case pLe: // lt, or the search value contains the target
		return t.lo < s.lo || contains
	case pSa: // no overlap, and the range above contains the target
		return t.lo > s.hi
	case pEb: // no overlap, and the range below contains the target
		return t.hi < s.lo
	case pAp: // the (widened) range overlaps the target
		return s.lo <= t.hi && t.lo <= s.hi
	}
	return false
}

// widen returns r widened on both sides by a tenth of the gap between now
// and r, R4's recommended approximation for ap on dates ("10% of the gap
// between now and the date"; servers may choose another). It is computed
// once, at Compile, from Options.Now: a Query kept for long keeps the
// width of the time it was compiled at.
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
