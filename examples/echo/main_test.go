package main

import (
	"testing"

	"github.com/smartguard/smartguard/examples/internal/exampletest"
)

func TestProtectedLikeEveryExample(t *testing.T) { exampletest.Check(t, setup) }
