//go:build !unix

package bench

import "testing"

// reportCPU reports nothing where getrusage is missing: the table then
// uses the wall time.
func reportCPU(*testing.B) func() { return func() {} }
