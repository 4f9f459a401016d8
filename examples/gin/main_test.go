package main

import (
	"testing"

	"github.com/smartguard/smartguard/examples/internal/exampletest"
)

func TestProtectedLikeEveryExample(t *testing.T) { exampletest.Check(t, setup) }

func TestGuardReadsGoThroughTheRouter(t *testing.T) { exampletest.CheckGuardReads(t, setup) }
