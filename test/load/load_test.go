package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// logWriter sends what the load command prints to the test log.
type logWriter struct{ t *testing.T }

func (l logWriter) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestInProcessLoadAnswersRightAndLeavesNothing runs the in-process
// phases briefly (CI runs it with the race detector): 64 connections,
// every answer as SMART decides, throughput measured both ways, and the
// heap and goroutines back to their baseline afterwards.
func TestInProcessLoadAnswersRightAndLeavesNothing(t *testing.T) {
	res, err := runInProcess(t.Context(), logWriter{t}, 64, 1, 3*time.Second, 2*time.Second, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	res.mix.report(logWriter{t}, res.mixElapsed)
	n, failed := res.mix.total()
	if n == 0 || failed > 0 {
		t.Errorf("%d wrong answers of %d", failed, n)
	}
	for i, c := range res.mix.count {
		if c == 0 {
			t.Errorf("the mix never sent %q", cases[i].name)
		}
	}
	reportComparisons(logWriter{t}, res.comparisons)
	if len(res.comparisons) != len(scenarios) {
		t.Errorf("%d throughput comparisons, want %d", len(res.comparisons), len(scenarios))
	}
	for _, c := range res.comparisons {
		if c.protected.n == 0 || c.unprotected.n == 0 {
			t.Errorf("%s: no requests measured", c.sc.name)
		}
	}
	t.Logf("memory: before %v, peak heap %.1f MiB, after %v", res.baseline, float64(res.peakHeap)/(1<<20), res.after)
	if res.leaked != nil {
		t.Error(res.leaked)
	}
}

// TestDemoUnderLoadAnswersRight builds the demo and runs it under the mix
// briefly.
func TestDemoUnderLoadAnswersRight(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts examples/demo")
	}
	tl, elapsed, err := runDemo(t.Context(), logWriter{t}, "", 64, 3*time.Second, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	tl.report(logWriter{t}, elapsed)
	if n, failed := tl.total(); n == 0 || failed > 0 {
		t.Errorf("%d wrong answers of %d", failed, n)
	}
}

// TestMixCatchesAnUnprotectedServer: the checks are not vacuous. Without
// a Guard in front, every refusal of the mix is a wrong answer, and so
// may be a patient's search once another patient's token overwrote one
// of their Observations; nothing else is.
func TestMixCatchesAnUnprotectedServer(t *testing.T) {
	open := httptest.NewUnstartedServer(nil)
	base := "http://" + open.Listener.Addr().String() + "/fhir"
	mux := http.NewServeMux()
	mux.Handle("/fhir/", newStore(base, "/fhir"))
	open.Config.Handler = mux
	open.Start()
	defer open.Close()
	as, err := newAuthServer()
	if err != nil {
		t.Fatal(err)
	}
	defer as.close()
	var patients []string
	obs := map[string]string{}
	for i := range 3 {
		p := patientID(i)
		patients = append(patients, p)
		obs[p] = fmt.Sprintf("obs-%s-00", p)
	}
	tok, err := as.mint(base, patients)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(8)
	defer client.CloseIdleConnections()
	tg := &target{base: base, patients: patients, obs: obs, code: loinc + "|" + obsCode(0), tok: tok, client: client}
	tg.creates.Store(10)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	tl, _ := mix(ctx, tg, 8, 5000)
	for i, c := range cases {
		if tl.count[i] == 0 {
			continue
		}
		refusal := strings.Contains(c.name, "(401)") || strings.Contains(c.name, "(403")
		switch {
		case refusal && tl.failed[i] != tl.count[i]:
			t.Errorf("%s: %d of %d answers without protection passed the checks", c.name, tl.count[i]-tl.failed[i], tl.count[i])
		case !refusal && !strings.HasPrefix(c.name, "search own") && tl.failed[i] != 0:
			t.Errorf("%s: %d wrong answers from the store itself", c.name, tl.failed[i])
		}
	}
}
