//go:build unix

package middleware

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time this process used so far (user and
// system, every thread: the garbage collector's work included), or 0 when
// it cannot be read.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
