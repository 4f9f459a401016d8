package main

import (
	"net/url"
	"strings"
	"testing"
)

// The granular step of the welcome text works as printed: laboratory
// results are found, a vital sign by id is refused, and metadata needs no
// token.
func TestPrintedGranularFlowWorks(t *testing.T) {
	d, printed := startDemo(t)
	scopes := "launch/patient patient/Observation.rs?category=" + labCategory
	search := d.audience + "/Observation?patient=example&category=" + labCategory
	for _, want := range []string{"scope=" + scopes, "'" + search + "'", d.audience + "/Observation/example-heart-rate", "curl -s " + d.audience + "/metadata"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the welcome text lacks %q:\n%s", want, printed)
		}
	}
	lab := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {scopes}, "patient": {"example"}})
	if code, body := get(t, search, lab); code != 200 || strings.Count(body, `"mode":"match"`) != 3 || strings.Contains(body, "vital-signs") {
		t.Errorf("laboratory search: %d, want the 3 laboratory results only\n%s", code, body)
	}
	for target, want := range map[string]int{
		"/Observation/example-hba1c":      200, // laboratory
		"/Observation/example-heart-rate": 403, // vital-signs
		"/Observation/example-smoking":    403, // social-history
		"/Observation/other-glucose":      403, // laboratory, another patient
	} {
		if code, body := get(t, d.audience+target, lab); code != want {
			t.Errorf("GET %s with the laboratory token: %d, want %d\n%s", target, code, want, body)
		}
	}
	if code, body := get(t, d.audience+"/metadata", ""); code != 200 || !strings.Contains(body, `"CapabilityStatement"`) {
		t.Errorf("metadata without a token: %d %s", code, body)
	}
}

// Every granular scope the demo advertises finds some of patient
// example's resources of its type, and not all of them: trying it shows
// a real difference.
func TestEachGranularScopeShowsADifference(t *testing.T) {
	d, _ := startDemo(t)
	all := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}})
	n := 0
	for _, sc := range demoScopes {
		res, query, granular := strings.Cut(sc, "?")
		if !granular {
			continue
		}
		n++
		t.Run(sc, func(t *testing.T) {
			typ := strings.TrimSuffix(strings.TrimPrefix(res, "patient/"), ".rs")
			tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"launch/patient " + sc}, "patient": {"example"}})
			code, body := get(t, d.audience+"/"+typ+"?patient=example&"+query, tok)
			found := strings.Count(body, `"mode":"match"`)
			_, everything := get(t, d.audience+"/Patient/example/"+typ, all)
			total := strings.Count(everything, `"mode":"match"`)
			if code != 200 || found == 0 || found >= total {
				t.Errorf("%d: found %d of patient example's %d %s resources, want some and not all\n%s", code, found, total, typ, body)
			}
		})
	}
	if n < 5 {
		t.Errorf("only %d granular scopes advertised", n)
	}
}
