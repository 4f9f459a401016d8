package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// demoPatients are the patients of the demo's sample data.
var demoPatients = []string{"example", "other", "third"}

// findExamples returns the examples module of this repository, looked
// for from the current directory upwards.
func findExamples() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "examples", "demo", "main.go")); err == nil {
			return filepath.Join(dir, "examples"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("examples/demo not found above the current directory: run from the repository")
		}
		dir = parent
	}
}

// buildDemo builds examples/demo into dir.
func buildDemo(ctx context.Context, dir string) (string, error) {
	examples, err := findExamples()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "demo")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./demo")
	cmd.Dir = examples
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the demo: %w\n%s", err, out)
	}
	return bin, nil
}

// runningDemo is a demo process on loopback.
type runningDemo struct {
	cmd    *exec.Cmd
	base   string
	stderr *tailWriter
	done   chan struct{}
}

// startDemo starts the demo binary on a free loopback port, trusting the
// authorization server at issuer, and waits for its FHIR base.
func startDemo(bin, issuer string) (*runningDemo, error) {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-issuer", issuer)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &runningDemo{cmd: cmd, stderr: &tailWriter{}, done: make(chan struct{})}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	bases := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "FHIR" && f[1] == "base" {
				bases <- f[2]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(d.done) }()
	select {
	case d.base = <-bases:
		return d, nil
	case <-d.done:
		return nil, fmt.Errorf("the demo exited: %s", d.stderr)
	case <-time.After(2 * time.Minute):
		d.stop()
		return nil, errors.New("the demo did not print its FHIR base within 2 minutes")
	}
}

// stop interrupts the demo and waits for it to end (it is killed after
// 10 s).
func (d *runningDemo) stop() {
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// tailWriter keeps the last 64 KiB written to it: the demo writes a line
// per decision to standard error, and only its last words matter here.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 64 << 10

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// runDemo starts the demo (bin, or built from examples/demo when empty)
// behind a loopback authorization server of its own, and sends it the mix
// of cases for d.
func runDemo(ctx context.Context, log io.Writer, bin string, conns int, d time.Duration, max int64) (*tally, time.Duration, error) {
	if bin == "" {
		dir, err := os.MkdirTemp("", "smartguard-load-")
		if err != nil {
			return nil, 0, err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintln(log, "demo: building examples/demo")
		if bin, err = buildDemo(ctx, dir); err != nil {
			return nil, 0, err
		}
	}
	as, err := newAuthServer()
	if err != nil {
		return nil, 0, err
	}
	defer as.close()
	demo, err := startDemo(bin, as.url())
	if err != nil {
		return nil, 0, err
	}
	defer demo.stop()
	fmt.Fprintf(log, "demo: FHIR base %s, trusting the loopback authorization server %s\n", demo.base, as.url())

	tok, err := as.mint(demo.base, demoPatients)
	if err != nil {
		return nil, 0, err
	}
	client := newClient(conns)
	defer client.CloseIdleConnections()
	t := &target{base: demo.base, patients: demoPatients, obs: map[string]string{}, tok: tok, client: client}
	t.creates.Store(200) // the demo's store keeps what is created
	if err := t.discover(ctx); err != nil {
		return nil, 0, err
	}
	mctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tl, elapsed := mix(mctx, t, conns, max)
	select {
	case <-demo.done:
		return nil, 0, fmt.Errorf("the demo exited during the run: %s", demo.stderr)
	default:
	}
	return tl, elapsed, nil
}

// discover finds an Observation of each patient, and a code to search
// by, in the demo's data.
func (t *target) discover(ctx context.Context) error {
	for _, p := range t.patients {
		resp, err := do(t.client, t.get("Observation?patient="+p, t.tok.valid[p]).WithContext(ctx))
		if err != nil {
			return err
		}
		var b struct {
			Entry []struct {
				Resource struct {
					ID   string `json:"id"`
					Code struct {
						Coding []struct{ System, Code string } `json:"coding"`
					} `json:"code"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if resp.status != 200 || json.Unmarshal(resp.body, &b) != nil || len(b.Entry) == 0 || b.Entry[0].Resource.ID == "" {
			return fmt.Errorf("demo: no Observation of patient %s found (%d): %.200s", p, resp.status, resp.body)
		}
		t.obs[p] = b.Entry[0].Resource.ID
		if c := b.Entry[0].Resource.Code.Coding; t.code == "" && len(c) > 0 {
			t.code = c[0].System + "|" + c[0].Code
		}
	}
	if t.code == "" {
		return errors.New("demo: no coded Observation found")
	}
	return nil
}
