package engine

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

// allocFactor is 2 in a binary built with the race detector, under which
// the runtime counts up to twice the bytes for large buffers, else 1.
var allocFactor = sync.OnceValue(func() float64 {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return 2
			}
		}
	}
	return 1
})

// TestReadAnnouncedAllocatesWhatArrives: a body whose length is announced
// is read into pieces that grow with what arrives, then, once half of it
// has come, into one buffer of its length: 1.5 times a whole body, at
// most 4 times what arrives of a shorter one.
func TestReadAnnouncedAllocatesWhatArrives(t *testing.T) {
	const n = 1 << 20
	for _, sent := range []int{1, 1000, n/2 - 1, n / 2, n/2 + 1, n - 1, n, n + 1} {
		body := bytes.Repeat([]byte("x"), sent)
		var got []byte
		var err error
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got, err = readAnnounced(bytes.NewReader(body), n)
		runtime.ReadMemStats(&after)
		switch {
		case sent == n && (err != nil || !bytes.Equal(got, body)):
			t.Errorf("%d bytes sent of %d: %v", sent, n, err)
		case sent != n && err == nil:
			t.Errorf("%d bytes sent of %d: no error", sent, n)
		}
		alloc := float64(after.TotalAlloc - before.TotalAlloc)
		bound := 4*float64(sent) + 16<<10
		if sent >= n/2 {
			bound = 1.5*n + 16<<10
		}
		if alloc > bound*allocFactor() {
			t.Errorf("%d bytes sent of %d: %.0f B allocated, more than %.0f", sent, n, alloc, bound*allocFactor())
		}
	}
}
