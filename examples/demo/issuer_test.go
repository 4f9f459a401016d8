package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/smarttest"
)

// With -issuer the demo trusts a real authorization server (here a
// smarttest one): no embedded token endpoint, discovery built from the
// issuer's metadata, and tokens of that issuer accepted.
func TestExternalIssuer(t *testing.T) {
	is := smarttest.NewIssuer(t, smarttest.ForAudience("http://fhir.example.test/r4"))
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	d, err := start(ctx, options{addr: "127.0.0.1:0", issuer: is.URL(), audience: is.Audience()}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		d.srv.Close()
	})
	if strings.Contains(out.String(), "/auth/token") {
		t.Errorf("the welcome text offers the embedded token endpoint with -issuer:\n%s", out.String())
	}
	base := d.root + "/r4"
	if code, body := get(t, base+"/.well-known/smart-configuration", ""); code != 200 || !strings.Contains(body, is.URL()) {
		t.Errorf("discovery: %d %s, want the issuer's endpoints", code, body)
	}
	if code, _ := get(t, d.root+"/auth/token", ""); code != 404 && code != 405 {
		t.Errorf("embedded token endpoint with -issuer: %d, want none", code)
	}
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Patient.r"), smarttest.Patient("example"))
	if code, body := get(t, base+"/Patient/example", tok); code != 200 {
		t.Errorf("own patient with the issuer's token: %d %s", code, body)
	}
	if code, _ := get(t, base+"/Patient/other", tok); code != 403 {
		t.Errorf("other patient: %d, want 403", code)
	}
	if code, _ := get(t, base+"/Patient/example", is.Token(t, smarttest.Scopes("patient/*.rs"), smarttest.Patient("example"), smarttest.WrongIssuer())); code != 401 {
		t.Errorf("token of another issuer: %d, want 401", code)
	}
}
