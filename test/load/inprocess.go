package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// memory is the heap in use and the number of goroutines at one moment.
type memory struct {
	heap       uint64
	goroutines int
}

func (m memory) String() string {
	return fmt.Sprintf("heap %.1f MiB, %d goroutines", float64(m.heap)/(1<<20), m.goroutines)
}

// settle collects garbage (twice, so that sync.Pools are emptied too) and
// returns the heap in use and the goroutines.
func settle() memory {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{heap: ms.HeapAlloc, goroutines: runtime.NumGoroutine()}
}

// heapSlack is how far above its baseline the heap may stay after a run:
// what the packages used initialize once (net/http, crypto, encoding/json
// caches).
const heapSlack = 2 << 20

// inProcessResult is what an in-process run measured.
type inProcessResult struct {
	mix             *tally
	mixElapsed      time.Duration
	comparisons     []comparison
	baseline, after memory
	peakHeap        uint64
	leaked          error
}

// runInProcess serves the load-test store on loopback twice, behind a
// Guard and unprotected, with an authorization server on loopback; sends
// the mix of cases to the protected one for mixFor, then compares their
// throughput for compareFor; shuts everything down and checks that the
// heap and the goroutines are back to what they were before.
func runInProcess(ctx context.Context, log io.Writer, conns, rounds int, mixFor, compareFor time.Duration, max int64) (*inProcessResult, error) {
	res := &inProcessResult{baseline: settle()}
	stop := sampleHeap(&res.peakHeap)
	err := loadInProcess(ctx, log, res, conns, rounds, mixFor, compareFor, max)
	stop()
	if err != nil {
		return nil, err
	}
	// Everything the run made is garbage now; what stays is a leak.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res.after = settle()
		ok := res.after.goroutines <= res.baseline.goroutines && res.after.heap <= res.baseline.heap+heapSlack
		if ok {
			break
		}
		if time.Now().After(deadline) {
			res.leaked = fmt.Errorf("not back to the baseline after the run: %v, before it %v", res.after, res.baseline)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return res, nil
}

// sampleHeap records the largest heap seen until the returned func is
// called.
func sampleHeap(peak *uint64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func loadInProcess(ctx context.Context, log io.Writer, res *inProcessResult, conns, rounds int, mixFor, compareFor time.Duration, max int64) error {
	as, err := newAuthServer()
	if err != nil {
		return err
	}
	defer as.close()

	// The protected server's address is its audience: listen first.
	protected := httptest.NewUnstartedServer(nil)
	defer protected.Close()
	base := "http://" + protected.Listener.Addr().String() + "/fhir"
	st := newStore(base, "/fhir")

	gctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the Guard's JWKS refresh
	guard, err := smartmw.New(gctx, smartmw.Config{Issuer: smartmw.Issuer{
		URL:      as.url(),
		Audience: base,
	}})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	guarded := guard.Handler(st)
	mux.Handle("/fhir", guarded)
	mux.Handle("/fhir/", guarded)
	protected.Config.Handler = mux
	protected.Start()

	open := http.NewServeMux()
	open.Handle("/fhir/", st)
	unprotected := httptest.NewServer(open)
	defer unprotected.Close()

	var patients []string
	obs := map[string]string{}
	for i := range seedPatients {
		p := patientID(i)
		patients = append(patients, p)
		obs[p] = fmt.Sprintf("obs-%s-00", p)
	}
	tok, err := as.mint(base, patients)
	if err != nil {
		return err
	}
	client := newClient(conns)
	defer client.CloseIdleConnections()
	t := &target{base: base, patients: patients, obs: obs, code: loinc + "|" + obsCode(0), tok: tok, client: client}
	t.creates.Store(200)

	fmt.Fprintf(log, "in process: the load-test store behind smartguard at %s, unprotected at %s/fhir\n", base, unprotected.URL)
	mctx, mcancel := context.WithTimeout(ctx, mixFor)
	res.mix, res.mixElapsed = mix(mctx, t, conns, max)
	mcancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.comparisons, err = compare(ctx, client, unprotected.URL+"/fhir", base, tok, conns, rounds, compareFor)
	return err
}
