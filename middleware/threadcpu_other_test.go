//go:build !linux

package middleware_test

import "time"

// threadCPU returns 0 where the thread's CPU time is not read: the
// ratio's CPU figure is then not reported.
func threadCPU() time.Duration { return 0 }
