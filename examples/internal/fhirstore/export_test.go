package fhirstore

import (
	"errors"
	"testing"
	"time"
)

// TestBulkJobsExpireAndAreBounded: finished jobs are forgotten JobTTL
// after they finished, and a client may run maxJobsPerClient at once.
func TestBulkJobsExpireAndAreBounded(t *testing.T) {
	var b bulkJobs
	var jobs []*bulkJob
	for range maxJobsPerClient {
		j, err := b.start("c1", "x")
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	var busy *tooMany
	if _, err := b.start("c1", "x"); !errors.As(err, &busy) {
		t.Errorf("a job past the bound: %v, want tooMany", err)
	}
	if _, err := b.start("c2", "x"); err != nil {
		t.Errorf("another client's job: %v", err)
	}
	jobs[0].done = time.Now().Add(-JobTTL - time.Minute)
	jobs[1].done = time.Now().Add(-JobTTL + time.Minute)
	b.mu.Lock()
	b.sweepL()
	_, gone := b.jobs[jobs[0].id]
	_, kept := b.jobs[jobs[1].id]
	b.mu.Unlock()
	if gone || !kept {
		t.Errorf("after the sweep: expired job kept %v, recent job kept %v", gone, kept)
	}
	if _, err := b.start("c1", "x"); err != nil {
		t.Errorf("a job once others finished: %v", err)
	}
}

func TestCohortGroupMembers(t *testing.T) {
	s, err := New(testBase)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.RLock()
	ids, err := s.groupMembersL(CohortGroup)
	s.mu.RUnlock()
	if err != nil || len(ids) != 1 || ids[0] != "example" {
		t.Errorf("members %v, %v", ids, err)
	}
	if got := intersect([]string{"other"}, ids); len(got) != 0 || got == nil {
		t.Errorf("a patient outside the Group: %v", got)
	}
}
