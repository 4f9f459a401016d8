package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/smartguard/smartguard/internal/dpoptest"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartredis "github.com/smartguard/smartguard/store/redis"
)

// replayTarget is DESIGN's bound on the replay check: its p99 at most 1 ms.
const replayTarget = time.Millisecond

// dpopTarget is two replicas of one FHIR server, each behind a Guard that
// accepts DPoP-bound tokens and records used proofs in one redis-server,
// with a DPoP-bound token and a key per patient.
type dpopTarget struct {
	replicas [2]string // the base URL of each replica's listener
	audience string    // the base URL the clients address (htu), replica 0's
	patients []string
	obs      map[string]string
	tok      map[string]string        // patient → a token bound to keys[patient]
	keys     map[string]*dpoptest.Key // patient → the client's ES256 key
	client   *http.Client
}

// dpopCase is one kind of exchange of the DPoP mix: it sends its
// request(s) and checks the answers.
type dpopCase struct {
	name   string
	weight int
	run    func(t *dpopTarget, a, b string, rng *rand.Rand) error
}

// dpopCases: fresh proofs for reads and searches (to either replica), a
// proof replayed to the other replica, and refusals: a bound token sent
// as a bearer token, a proof for another URL, one signed by another key,
// none.
var dpopCases = []dpopCase{
	{"DPoP read own Observation, fresh proof (200)", 10, func(t *dpopTarget, a, _ string, rng *rand.Rand) error {
		r := rng.IntN(2)
		resp, err := t.do(r, "Observation/"+t.obs[a], a, a, "")
		return checked(resp, err, all(status(200), resource("Observation", t.obs[a])))
	}},
	{"DPoP search own Observations, fresh proof (200)", 5, func(t *dpopTarget, a, _ string, rng *rand.Rand) error {
		resp, err := t.do(rng.IntN(2), "Observation?patient="+a, a, a, "")
		return checked(resp, err, all(status(200), onlyPatient(a)))
	}},
	{"DPoP proof replayed to the other replica (200, then 401)", 3, func(t *dpopTarget, a, _ string, rng *rand.Rand) error {
		r := rng.IntN(2)
		rel := "Patient/" + a
		proof, err := t.proof(a, http.MethodGet, rel)
		if err != nil {
			return err
		}
		resp, err := t.send(r, rel, t.tok[a], proof)
		if err := checked(resp, err, all(status(200), resource("Patient", a))); err != nil {
			return fmt.Errorf("first use: %w", err)
		}
		resp, err = t.send(1-r, rel, t.tok[a], proof)
		return checked(resp, err, dpopRefused(401, "invalid_dpop_proof"))
	}},
	{"DPoP-bound token as a bearer token (401)", 2, func(t *dpopTarget, a, _ string, rng *rand.Rand) error {
		req := t.request(rng.IntN(2), "Patient/"+a)
		req.Header.Set("Authorization", "Bearer "+t.tok[a])
		resp, err := do(t.client, req)
		return checked(resp, err, dpopRefused(401, "invalid_token"))
	}},
	{"DPoP proof for another URL (401)", 2, func(t *dpopTarget, a, _ string, rng *rand.Rand) error {
		resp, err := t.do(rng.IntN(2), "Observation/"+t.obs[a], a, a, "Patient/"+a)
		return checked(resp, err, dpopRefused(401, "invalid_dpop_proof"))
	}},
	{"DPoP proof signed by another key (401)", 1, func(t *dpopTarget, a, b string, rng *rand.Rand) error {
		resp, err := t.do(rng.IntN(2), "Patient/"+a, a, b, "")
		return checked(resp, err, dpopRefused(401, "invalid_token"))
	}},
	{"DPoP token without a proof (401)", 1, func(t *dpopTarget, a, _ string, rng *rand.Rand) error {
		resp, err := t.send(rng.IntN(2), "Patient/"+a, t.tok[a], "")
		return checked(resp, err, dpopRefused(401, "invalid_dpop_proof"))
	}},
}

// do sends GET rel to replica r with patient's token and a fresh proof
// by keyOf's key for htu (rel when htu is ""), and reads the answer.
func (t *dpopTarget) do(r int, rel, patient, keyOf, htu string) (*response, error) {
	if htu == "" {
		htu = rel
	}
	proof, err := t.keyProof(keyOf, http.MethodGet, htu, t.tok[patient])
	if err != nil {
		return nil, err
	}
	return t.send(r, rel, t.tok[patient], proof)
}

// proof is a fresh proof of patient's key for GET rel with its token.
func (t *dpopTarget) proof(patient, method, rel string) (string, error) {
	return t.keyProof(patient, method, rel, t.tok[patient])
}

func (t *dpopTarget) keyProof(keyOf, method, rel, token string) (string, error) {
	htu, _, _ := strings.Cut(t.audience+"/"+rel, "?")
	return t.keys[keyOf].Proof(dpoptest.Claims(method, htu, token, time.Now()), nil)
}

// send sends GET rel to replica r as "Authorization: DPoP token" with
// proof in the DPoP header (none when "").
func (t *dpopTarget) send(r int, rel, token, proof string) (*response, error) {
	req := t.request(r, rel)
	req.Header.Set("Authorization", "DPoP "+token)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return do(t.client, req)
}

func (t *dpopTarget) request(r int, rel string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, t.replicas[r]+"/"+rel, nil)
	if err != nil {
		panic(err) // the URLs are built here
	}
	return req
}

func checked(resp *response, err error, check func(*response) error) error {
	if err != nil {
		return err
	}
	return check(resp)
}

// dpopRefused checks a refusal of a DPoP request: the status, a FHIR
// OperationOutcome and the error code in a challenge.
func dpopRefused(st int, code string) func(*response) error {
	return func(r *response) error {
		if r.status != st {
			return fmt.Errorf("status %d, want %d: %.200s", r.status, st, r.body)
		}
		res, err := decode(r)
		if err != nil {
			return err
		}
		if res.ResourceType != "OperationOutcome" {
			return fmt.Errorf("the refusal is not an OperationOutcome: %.200s", r.body)
		}
		if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="`+code+`"`) {
			return fmt.Errorf("challenge %q, want error=%q", ch, code)
		}
		return nil
	}
}

// latencies records the duration of calls, up to a bound.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	if len(l.all) < 1<<20 {
		l.all = append(l.all, d)
	}
	l.mu.Unlock()
}

// quantile returns the q-quantile of the recorded durations (0 for none).
func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(l.all))
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// reset forgets the recorded durations.
func (l *latencies) reset() {
	l.mu.Lock()
	l.all = l.all[:0]
	l.mu.Unlock()
}

func (l *latencies) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// timedStore is a Store whose Add (the replay check) is timed.
type timedStore struct {
	smartmw.Store
	lat *latencies
}

func (s timedStore) Add(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.Store.Add(ctx, key, ttl)
	s.lat.add(time.Since(start))
	return ok, err
}

// dpopResult is what the DPoP phase measured.
type dpopResult struct {
	count, failed []int64
	examples      []string
	elapsed       time.Duration
	replay        *latencies // of the replay store's Add
	// p50 and p99 are the replay check's latency under the mix; probeN,
	// probe50 and probe99 its latency in requests sent one at a time
	// after the mix, where no other request competes for the CPU.
	p50, p99         time.Duration
	probeN           int
	probe50, probe99 time.Duration
}

func (r *dpopResult) total() (n, failed int64) {
	for i := range r.count {
		n += r.count[i]
		failed += r.failed[i]
	}
	return n, failed
}

// report writes the count of each case and the replay check's latency.
func (r *dpopResult) report(w io.Writer) {
	n, failed := r.total()
	fmt.Fprintf(w, "  %d exchanges in %.1f s (%.0f/s), %d wrong answers\n", n, r.elapsed.Seconds(), float64(n)/r.elapsed.Seconds(), failed)
	for i, c := range dpopCases {
		fmt.Fprintf(w, "    %-58s %8d  wrong %d\n", c.name, r.count[i], r.failed[i])
	}
	for _, e := range r.examples {
		fmt.Fprintf(w, "  WRONG: %s\n", e)
	}
	fmt.Fprintf(w, "  replay check (Store.Add on redis-server) under the mix: p50 %v, p99 %v\n",
		r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
	fmt.Fprintf(w, "  replay check, %d requests one at a time: p50 %v, p99 %v (target ≤ %v)\n",
		r.probeN, r.probe50.Round(time.Microsecond), r.probe99.Round(time.Microsecond), replayTarget)
}

// probeRequests is how many requests the probe sends one at a time.
const probeRequests = 500

// probe sends fresh DPoP reads one at a time, up to probeRequests or
// until ctx is done, and records the replay check's latency in them.
func (t *dpopTarget) probe(ctx context.Context, res *dpopResult) error {
	res.replay.reset()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < probeRequests && ctx.Err() == nil; i++ {
		a := t.patients[i%len(t.patients)]
		resp, err := t.do(rng.IntN(2), "Observation/"+t.obs[a], a, a, "")
		if err := checked(resp, err, status(200)); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
	}
	res.probeN = res.replay.len()
	res.probe50, res.probe99 = res.replay.quantile(0.50), res.replay.quantile(0.99)
	return nil
}

// runDPoP starts a redis-server and two replicas sharing it, and sends
// them the DPoP mix over conns connections for d (at most max exchanges),
// then the probe. wrap, when not nil, changes each replica's replay store
// (for the tests). It returns errNoRedis without a redis-server.
func runDPoP(ctx context.Context, log io.Writer, conns int, d time.Duration, max int64, wrap func(smartmw.Store) smartmw.Store) (*dpopResult, error) {
	rs, err := startRedis(ctx)
	if err != nil {
		return nil, err
	}
	defer rs.stop()
	as, err := newAuthServer()
	if err != nil {
		return nil, err
	}
	defer as.close()
	var listeners [2]*httptest.Server
	for i := range listeners {
		listeners[i] = httptest.NewUnstartedServer(nil)
		defer listeners[i].Close()
	}
	t := &dpopTarget{audience: "http://" + listeners[0].Listener.Addr().String() + "/fhir", obs: map[string]string{},
		tok: map[string]string{}, keys: map[string]*dpoptest.Key{}}
	st := newStore(t.audience, "/fhir")
	res := &dpopResult{replay: &latencies{}, count: make([]int64, len(dpopCases)), failed: make([]int64, len(dpopCases))}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the Guards' JWKS refresh
	for i, l := range listeners {
		client := redis.NewClient(rs.options())
		defer client.Close()
		store, err := smartredis.New(client, smartredis.Options{Prefix: "load:"})
		if err != nil {
			return nil, err
		}
		var replay smartmw.Store = timedStore{store, res.replay}
		if wrap != nil {
			replay = wrap(replay)
		}
		g, err := smartmw.New(gctx, smartmw.Config{
			Issuer: smartmw.Issuer{URL: as.url(), Audience: t.audience, DPoP: smartmw.DPoPAllowed},
			DPoP:   smartmw.DPoPOptions{Store: replay},
		})
		if err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("/fhir/", g.Handler(st))
		l.Config.Handler = mux
		l.Start()
		t.replicas[i] = l.URL + "/fhir"
	}
	if err := t.mint(as); err != nil {
		return nil, err
	}
	t.client = newClient(conns)
	defer t.client.CloseIdleConnections()
	fmt.Fprintf(log, "dpop: two replicas (%s, %s) recording used proofs in redis-server %s\n", t.replicas[0], t.replicas[1], rs.addr)
	mctx, mcancel := context.WithTimeout(ctx, d*4/5)
	defer mcancel()
	dpopMix(mctx, t, conns, max, res)
	res.p50, res.p99 = res.replay.quantile(0.50), res.replay.quantile(0.99)
	pctx, pcancel := context.WithTimeout(ctx, d/5)
	defer pcancel()
	if err := t.probe(pctx, res); err != nil {
		return nil, err
	}
	return res, ctx.Err()
}

// mint makes a key and a token bound to it per seeded patient.
func (t *dpopTarget) mint(as *authServer) error {
	now := time.Now()
	for i := range seedPatients {
		p := patientID(i)
		k, err := dpoptest.NewKey("ES256")
		if err != nil {
			return err
		}
		tok, err := as.dev.Sign(jwt.MapClaims{
			"iss": as.url(), "aud": t.audience, "sub": "load-" + p, "client_id": "load-app", "patient": p,
			"iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(), "jti": "dpop-" + p, "scope": patientScopes,
			"cnf": map[string]any{"jkt": k.Thumbprint},
		}, nil)
		if err != nil {
			return fmt.Errorf("minting DPoP tokens: %w", err)
		}
		t.patients = append(t.patients, p)
		t.obs[p] = fmt.Sprintf("obs-%s-00", p)
		t.tok[p], t.keys[p] = tok, k
	}
	return nil
}

// dpopMix sends the weighted DPoP cases over conns connections until ctx
// is done or max exchanges were made, counting into res.
func dpopMix(ctx context.Context, t *dpopTarget, conns int, max int64, res *dpopResult) {
	var pick []int
	for i, c := range dpopCases {
		for range c.weight {
			pick = append(pick, i)
		}
	}
	var mu sync.Mutex
	var sent atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for k := 0; ctx.Err() == nil && sent.Add(1) <= max; k++ {
				i := pick[rng.IntN(len(pick))]
				if k == 0 {
					i = w % len(dpopCases) // with conns ≥ len(dpopCases), every case is sent
				}
				ai := rng.IntN(len(t.patients))
				bi := (ai + 1 + rng.IntN(len(t.patients)-1)) % len(t.patients)
				err := dpopCases[i].run(t, t.patients[ai], t.patients[bi], rng)
				mu.Lock()
				res.count[i]++
				if err != nil {
					res.failed[i]++
					if len(res.examples) < 10 {
						res.examples = append(res.examples, dpopCases[i].name+": "+err.Error())
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
}
