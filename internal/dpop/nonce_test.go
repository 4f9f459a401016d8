package dpop

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var nonceKey = bytes.Repeat([]byte{7}, 32)

func newNonces(t *testing.T, key []byte) *Nonces {
	t.Helper()
	n, err := NewNonces(key, time.Minute, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNonces(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // a step boundary
	n := newNonces(t, nonceKey)
	cur := n.Current(start.Add(10 * time.Second))
	if len(cur) != 32 || strings.ContainsAny(cur, "+/=") {
		t.Fatalf("nonce %q is not 32 characters of base64url", cur)
	}
	// Another replica with the same key and no shared state.
	replica := newNonces(t, nonceKey)
	for _, tc := range []struct {
		name    string
		nonce   string
		at      time.Time
		current bool
		err     error
	}{
		{"the current one", cur, start.Add(50 * time.Second), true, nil},
		{"on another replica", cur, start.Add(30 * time.Second), true, nil},
		{"in the next step", cur, start.Add(70 * time.Second), false, nil},
		{"two steps later", cur, start.Add(121 * time.Second), false, ErrNonce},
		{"from a replica whose clock is ahead", cur, start.Add(-3 * time.Second), true, nil},
		{"from a step still ahead", cur, start.Add(-6 * time.Second), false, ErrNonce},
		{"missing", "", start, false, ErrNonceMissing},
		{"forged", strings.Repeat("A", 32), start, false, ErrNonce},
		{"too short", cur[:31], start, false, ErrNonce},
		{"changed mac", cur[:31] + string(cur[31]^1), start.Add(10 * time.Second), false, ErrNonce},
		{"another key's", newNonces(t, bytes.Repeat([]byte{8}, 32)).Current(start), start, false, ErrNonce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replica.Check(tc.nonce, tc.at)
			if !errors.Is(err, tc.err) || err == nil && got != tc.current {
				t.Errorf("Check = %v, %v; want %v, %v", got, err, tc.current, tc.err)
			}
		})
	}
}

func TestNewNoncesRefusesShortKeys(t *testing.T) {
	if _, err := NewNonces(make([]byte, 31), time.Minute, 0); err == nil {
		t.Error("NewNonces accepted a 31-byte key")
	}
	if _, err := NewNonces(nonceKey, 0, 0); err == nil {
		t.Error("NewNonces accepted a zero interval")
	}
}
