package search

import (
	"math/big"
	"strings"
)

// decimal is an exact decimal number: m × 10^e. Search values and
// resource numbers are compared exactly, so that the bounds of R4's
// implicit ranges (100 is [99.5, 100.5)) hold: in binary floating point
// 0.1+0.2 is not 0.3, and a bound off by one ulp would put a value on
// the wrong side of it.
type decimal struct {
	m big.Int
	e int
}

// maxExp bounds exponents: a number beyond it is refused, so that no
// comparison builds a huge integer.
const maxExp = 400

// parseDecimal reads a JSON number or a search number ("100", "1.50",
// "1e2", "-3.5E-1"). digitExp is the exponent of the last significant
// digit written, which gives the implicit precision.
func parseDecimal(b []byte) (d decimal, digitExp int, ok bool) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var digits []byte
	var buf [40]byte
	digits = buf[:0]
	intDigits, fracDigits := 0, 0
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		digits = append(digits, b[i])
		intDigits++
		i++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			digits = append(digits, b[i])
			fracDigits++
			i++
		}
		if fracDigits == 0 {
			return d, 0, false
		}
	}
	if intDigits == 0 || len(digits) > 200 {
		return d, 0, false
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			eneg = b[i] == '-'
			i++
		}
		n := 0
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			n = n*10 + int(b[i]-'0')
			if n > maxExp {
				return d, 0, false
			}
			i++
		}
		if i == start {
			return d, 0, false
		}
		if eneg {
			n = -n
		}
		exp = n
	}
	if i != len(b) {
		return d, 0, false
	}
	d.m.SetString(string(digits), 10)
	if neg {
		d.m.Neg(&d.m)
	}
	d.e = exp - fracDigits
	return d, d.e, true
}

// cmpDec compares a and b exactly.
func cmpDec(a, b *decimal) int {
	if a.e == b.e {
		return a.m.Cmp(&b.m)
	}
	var x, y big.Int
	x.Set(&a.m)
	y.Set(&b.m)
	if a.e > b.e {
		x.Mul(&x, pow10(a.e-b.e))
	} else {
		y.Mul(&y, pow10(b.e-a.e))
	}
	return x.Cmp(&y)
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// addHalfUnit returns d + k × 5 × 10^(exp-1), k being 1 or -1: the bounds
// of the implicit range of a value whose last digit is at 10^exp.
func addHalfUnit(d *decimal, exp, k int) decimal {
	var out decimal
	// Bring d to exponent exp-1, then add ±5.
	out.e = exp - 1
	out.m.Set(&d.m)
	if d.e > out.e {
		out.m.Mul(&out.m, pow10(d.e-out.e))
	}
	out.m.Add(&out.m, big.NewInt(int64(5*k)))
	return out
}

// tenth returns |d| / 10 as a decimal.
func tenth(d *decimal) decimal {
	var out decimal
	out.m.Abs(&d.m)
	out.e = d.e - 1
	return out
}

func addDec(a, b *decimal) decimal {
	var x, y big.Int
	x.Set(&a.m)
	y.Set(&b.m)
	e := a.e
	if a.e > b.e {
		x.Mul(&x, pow10(a.e-b.e))
		e = b.e
	} else if b.e > a.e {
		y.Mul(&y, pow10(b.e-a.e))
	}
	var out decimal
	out.m.Add(&x, &y)
	out.e = e
	return out
}

func negDec(a *decimal) decimal {
	var out decimal
	out.m.Neg(&a.m)
	out.e = a.e
	return out
}

// numAlt is one alternative of a number or quantity value: the prefix,
// the value, and the bounds of the implicit range [lo, hi) (eq, ne) or of
// the approximation [lo, hi] (ap).
//
// R4 search.html#number: a number is searched with the precision it is
// written with, "100" meaning [99.5, 100.5) and "100.00" [99.995,
// 100.005), but only by eq and ne; "when a comparison prefix in the set
// gt, lt, ge, le, sa & eb is provided, the implicit precision of the
// number is ignored". ap is within 10% of the value, R4's recommended
// approximation.
type numAlt struct {
	p         prefix
	v, lo, hi decimal
}

// newNumAlt compiles a search number with its prefix.
func newNumAlt(p prefix, text string) (numAlt, bool) {
	v, exp, ok := parseDecimal([]byte(text))
	if !ok {
		return numAlt{}, false
	}
	a := numAlt{p: p, v: v}
	switch p {
	case pEq, pNe:
		if p == pEq && strings.ContainsAny(text, "eE") {
			// R4's table reads "1e2" as [95, 105), a digit finer than
			// its own rule of significant figures would ([50, 150)).
			// A scope must let through only what every reading
			// allows: eq takes the finer range, ne (which matches
			// outside it) the coarser.
			exp--
		}
		a.lo = addHalfUnit(&v, exp, -1)
		a.hi = addHalfUnit(&v, exp, 1)
	case pAp:
		t := tenth(&v)
		nt := negDec(&t)
		a.lo = addDec(&v, &nt)
		a.hi = addDec(&v, &t)
	}
	return a, true
}

// numRange is a target value: a point (lo == hi) or a Range, with
// missing ends open. A number in a resource is taken as exact, a point,
// whatever digits it is written with; only the search value has an
// implicit range.
type numRange struct {
	lo, hi       decimal
	hasLo, hasHi bool
}

// matches applies the prefix to the target r (R4: gt100 is "greater than
// exactly 100"; the implicit precision counts for eq and ne only). A
// Range target follows the range rules of dateAlt.matches: eq needs it
// inside the implicit range, gt needs part of it above the value, sa all
// of it; an open end (a missing low or high) reaches past any value, so
// that an open-ended Range is never inside an implicit range.
func (a *numAlt) matches(r *numRange) bool {
	switch a.p {
	case pEq, pNe:
		in := r.hasLo && r.hasHi && cmpDec(&a.lo, &r.lo) <= 0 && cmpDec(&r.hi, &a.hi) < 0
		return in == (a.p == pEq)
	case pGt, pSa:
		if a.p == pSa {
			return r.hasLo && cmpDec(&r.lo, &a.v) > 0
		}
		return !r.hasHi || cmpDec(&r.hi, &a.v) > 0
	case pGe:
		return !r.hasHi || cmpDec(&r.hi, &a.v) >= 0
	case pLt, pEb:
		if a.p == pEb {
			return r.hasHi && cmpDec(&r.hi, &a.v) < 0
		}
		return !r.hasLo || cmpDec(&r.lo, &a.v) < 0
	case pLe:
		return !r.hasLo || cmpDec(&r.lo, &a.v) <= 0
	case pAp:
		return (!r.hasLo || cmpDec(&r.lo, &a.hi) <= 0) && (!r.hasHi || cmpDec(&r.hi, &a.lo) >= 0)
	}
	return false
}
