package main

import (
	"testing"

	"github.com/smartguard/smartguard/examples/internal/chaintest"
	"github.com/smartguard/smartguard/smarttest"
)

func TestProtectedAPI(t *testing.T) {
	is := smarttest.NewIssuer(t)
	h, err := setupRouter(t.Context(), is.Config(), []string{chaintest.Origin})
	if err != nil {
		t.Fatal(err)
	}
	chaintest.Run(t, is, h)
}
