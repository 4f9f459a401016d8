//go:build unix

package bench

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time this process has used, user and system, on
// every thread (the garbage collector's included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU starts counting the process's CPU time; the func it returns,
// called after the benchmark loop, reports it per operation as
// "cpu-ns/op". Other processes on the machine change it much less than
// they change ns/op, the wall time.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
