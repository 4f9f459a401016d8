package fhirjson

// Elements calls fn, in order, with each element of the JSON array arr, a
// whole value. It stops at the first error fn returns and returns it. It
// fails with ErrSyntax or ErrDepth for malformed input, and with
// ErrUnreadable when arr is not an array.
func Elements(arr []byte, fn func(value Span) error) error {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return ErrUnreadable
	}
	i = skipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		if skipSpace(arr, i+1) != len(arr) {
			return ErrSyntax
		}
		return nil
	}
	for {
		next, err := SkipValue(arr, i, 1)
		if err != nil {
			return err
		}
		if err := fn(Span{i, next}); err != nil {
			return err
		}
		i = skipSpace(arr, next)
		switch {
		case i >= len(arr):
			return ErrSyntax
		case arr[i] == ']':
			if skipSpace(arr, i+1) != len(arr) {
				return ErrSyntax
			}
			return nil
		case arr[i] != ',':
			return ErrSyntax
		}
		i = skipSpace(arr, i+1)
	}
}
