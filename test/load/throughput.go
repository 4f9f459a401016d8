package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// scenario is one kind of request whose throughput is compared, protected
// and unprotected.
type scenario struct {
	name   string
	target float64 // the least protected ÷ unprotected throughput, 0 for none
	// request returns the i-th request of a worker to base, with a token
	// when protected.
	request func(base string, tok *tokens, i int, protected bool) *http.Request
}

// scenarios: reads by id and searches, with user/ tokens (nothing for the
// response guard to check) and patient/ tokens (every answer checked by
// the response guard). Tokens rotate over the 20 patients; all are cached
// after their first use. DESIGN.md's targets are 90% for reads by id and
// user/ searches, 70% for guarded patient/ searches.
var scenarios = []scenario{
	{"read by id, user/ token", 0.90, func(base string, tok *tokens, i int, protected bool) *http.Request {
		return loadRequest(base+"/Observation/"+obsID(i), tok.user, protected)
	}},
	{"search, user/ token (20 entries)", 0.90, func(base string, tok *tokens, i int, protected bool) *http.Request {
		return loadRequest(base+"/Observation?code="+loinc+"|"+obsCode(i%observationCodes)+"&_count=20", tok.user, protected)
	}},
	{"read by id, patient/ token (guarded)", 0, func(base string, tok *tokens, i int, protected bool) *http.Request {
		p := patientID(i % seedPatients)
		return loadRequest(base+"/Observation/"+fmt.Sprintf("obs-%s-%02d", p, i%obsPerPatient), tok.valid[p], protected)
	}},
	{"search, patient/ token (guarded, 20 entries)", 0.70, func(base string, tok *tokens, i int, protected bool) *http.Request {
		p := patientID(i % seedPatients)
		return loadRequest(base+"/Observation?patient="+p, tok.valid[p], protected)
	}},
}

func obsID(i int) string {
	return fmt.Sprintf("obs-%s-%02d", patientID(i%seedPatients), (i/seedPatients)%obsPerPatient)
}

// loadRequest is a GET of url with the token. The unprotected server gets
// the token too, and ignores it: the requests are the same bytes, so that
// the comparison measures what the protection does with them.
func loadRequest(url, token string, _ bool) *http.Request {
	r, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// rate is the requests of one window, how long they took and the CPU
// time the process (client and servers) used meanwhile.
type rate struct {
	n       int64
	elapsed time.Duration
	cpu     time.Duration
}

func (r rate) perSecond() float64 { return float64(r.n) / r.elapsed.Seconds() }

// perCPUSecond is the requests per second of CPU time: the throughput of
// a machine that gives the process all its CPU, which is the case on
// loopback with enough connections unless other processes take some.
func (r rate) perCPUSecond() float64 {
	if r.cpu <= 0 {
		return r.perSecond()
	}
	return float64(r.n) / r.cpu.Seconds()
}

func (r *rate) add(o rate) {
	r.n += o.n
	r.elapsed += o.elapsed
	r.cpu += o.cpu
}

// window sends requests of sc to base over conns connections for d, and
// counts the answers; any answer but 200 is an error.
func window(ctx context.Context, client *http.Client, base string, tok *tokens, sc scenario, protected bool, conns int, d time.Duration) (rate, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	start, cpu := time.Now(), processCPU()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i += conns {
				resp, err := client.Do(sc.request(base, tok, i, protected).WithContext(ctx))
				if err != nil {
					if ctx.Err() == nil {
						once.Do(func() { firstErr = err })
					}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					once.Do(func() { firstErr = fmt.Errorf("%s: status %d", sc.name, resp.StatusCode) })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return rate{n.Load(), time.Since(start), processCPU() - cpu}, firstErr
}

// comparison is the throughput of one scenario, protected and not.
type comparison struct {
	sc                     scenario
	protected, unprotected rate      // over every round
	ratios                 []float64 // protected ÷ unprotected per CPU second, per round
	wallRatios             []float64 // the same by wall time
	median, wallMedian     float64
}

// compare measures each scenario in rounds, alternating the unprotected
// and the protected server (in alternating order), so that both see the
// same load of the machine.
func compare(ctx context.Context, client *http.Client, unprotected, protected string, tok *tokens, conns, rounds int, d time.Duration) ([]comparison, error) {
	perWindow := d / time.Duration(len(scenarios)*rounds*2)
	var out []comparison
	for _, sc := range scenarios {
		c := comparison{sc: sc}
		// Warm up: connections, and every token in the cache.
		for _, p := range []bool{false, true} {
			base := map[bool]string{false: unprotected, true: protected}[p]
			if _, err := window(ctx, client, base, tok, sc, p, conns, min(perWindow/2, 500*time.Millisecond)); err != nil {
				return nil, err
			}
		}
		for r := range rounds {
			var rs [2]rate
			for k := range 2 {
				p := (r+k)%2 == 1
				base := map[bool]string{false: unprotected, true: protected}[p]
				got, err := window(ctx, client, base, tok, sc, p, conns, perWindow)
				if err != nil {
					return nil, err
				}
				rs[map[bool]int{false: 0, true: 1}[p]] = got
			}
			c.unprotected.add(rs[0])
			c.protected.add(rs[1])
			c.ratios = append(c.ratios, rs[1].perCPUSecond()/rs[0].perCPUSecond())
			c.wallRatios = append(c.wallRatios, rs[1].perSecond()/rs[0].perSecond())
		}
		c.median, c.wallMedian = median(c.ratios), median(c.wallRatios)
		out = append(out, c)
	}
	return out, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// reportComparisons writes the throughput table; it returns the
// scenarios below their target.
func reportComparisons(w io.Writer, cs []comparison) (below []string) {
	fmt.Fprintf(w, "  %-46s %28s %28s %s\n", "", "requests per CPU second", "requests per second (wall)", "")
	fmt.Fprintf(w, "  %-46s %9s %9s %8s %9s %9s %8s  %s\n", "scenario",
		"open", "guarded", "ratio", "open", "guarded", "ratio", "ratio per round, per CPU second")
	for _, c := range cs {
		rounds := ""
		for _, r := range c.ratios {
			rounds += fmt.Sprintf(" %.0f%%", 100*r)
		}
		mark := ""
		if c.sc.target > 0 {
			mark = fmt.Sprintf("  target ≥ %.0f%%", 100*c.sc.target)
			if c.median < c.sc.target {
				mark += ": BELOW"
				below = append(below, c.sc.name)
			}
		}
		fmt.Fprintf(w, "  %-46s %9.0f %9.0f %7.1f%% %9.0f %9.0f %7.1f%%  (%s)%s\n", c.sc.name,
			c.unprotected.perCPUSecond(), c.protected.perCPUSecond(), 100*c.median,
			c.unprotected.perSecond(), c.protected.perSecond(), 100*c.wallMedian, rounds[1:], mark)
	}
	return below
}
