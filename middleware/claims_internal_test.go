package middleware

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzHasRuneError checks the eight-bytes-a-step search against
// strings.ContainsRune.
func FuzzHasRuneError(f *testing.F) {
	for _, s := range []string{"", "abc", "abcdefgh", "abcdefgh\uFFFD", "\uFFFDabcdefgh", "abcdefg\xff", "abcdefghé", "é\uFFFD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hasRuneError(s), strings.ContainsRune(s, utf8.RuneError); got != want {
			t.Fatalf("hasRuneError(%q) = %v, want %v", s, got, want)
		}
	})
}
