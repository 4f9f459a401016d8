package fhirjson

// Members calls fn, in order, with the key (its content, decoded) and the
// value of each member of the JSON object obj, a whole body as Scan reads
// it. It stops at the first error fn returns and returns it. It fails
// with ErrSyntax or ErrDepth for input Scan refuses for the same reason,
// and with ErrUnreadable when obj is not an object.
//
// It reads one level: a value's Span is handed to fn unread, for fn to
// read with Members or Elements when it needs to, so that the caller's
// recursion, not this function's, follows the structure.
func Members(obj []byte, fn func(key string, value Span) error) error {
	s := scanner{data: obj}
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		if i < len(obj) {
			if _, err := SkipValue(obj, i, 0); err != nil {
				return err
			}
		}
		return ErrUnreadable
	}
	var ferr error
	end, err := s.object(i, 0, func(key []byte, escaped bool, v int) (int, error) {
		next, err := SkipValue(obj, v, 1)
		if err != nil {
			return next, err
		}
		k := string(key)
		if escaped {
			k = unquote(key)
		}
		if ferr = fn(k, Span{v, next}); ferr != nil {
			return next, ferr
		}
		return next, nil
	})
	switch {
	case ferr != nil:
		return ferr
	case err != nil:
		return err
	case skipSpace(obj, end) != len(obj):
		return ErrSyntax
	}
	return nil
}

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
