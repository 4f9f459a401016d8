//go:build !unix

package main

import "time"

// processCPU is 0 where getrusage is missing: throughput is then compared
// by wall time only.
func processCPU() time.Duration { return 0 }
