package jwks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://auth.example.org/realms/fhir", true},
		{"https://auth.example.org", true},
		{"http://127.0.0.1:8080/x", true},
		{"http://[::1]:8080/x", true},
		{"http://localhost:8080/x", true},
		{"http://auth.example.org/x", false},
		{"http://127.0.0.2/x", false},
		{"http://localhost.evil.org/x", false},
		{"http://127.0.0.1.nip.io/x", false},
		{"ftp://auth.example.org/x", false},
		{"https://user:pw@auth.example.org/x", false},
		{"https://auth.example.org/x#frag", false},
		{"/relative", false},
		{"", false},
	}
	for _, tc := range tests {
		if err := CheckURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
	}
}

func TestValidKID(t *testing.T) {
	tests := []struct {
		kid string
		ok  bool
	}{
		{"k1", true},
		{"MrFm8lZL7T0Vq5c_0FDKUnHVjMpjVIbcSOo-kFfeDd0", true},
		{strings.Repeat("a", MaxKIDLength), true},
		{strings.Repeat("a", MaxKIDLength+1), false},
		{"", false},
		{"a b", false},
		{"a\r\nb", false},
		{"é", false},
	}
	for _, tc := range tests {
		if got := ValidKID(tc.kid); got != tc.ok {
			t.Errorf("ValidKID(%q) = %v", tc.kid, got)
		}
	}
}

func TestClientBoundsBodies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		ok      bool
	}{
		{name: "at the bound", size: MaxDocumentSize, ok: true},
		{name: "over, with length", size: MaxDocumentSize + 1},
		{name: "over, chunked", size: MaxDocumentSize + 1, chunked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.chunked {
					w.(http.Flusher).Flush()
				}
				w.Write([]byte(strings.Repeat("x", tc.size)))
			}))
			defer srv.Close()
			resp, err := Client(srv.Client()).Get(srv.URL)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrTooLarge) {
				t.Errorf("err = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestClientRefusesRedirectToHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://auth.example.org/jwks", http.StatusFound)
	}))
	defer srv.Close()
	if _, err := Discover(context.Background(), Client(srv.Client()), srv.URL); err == nil {
		t.Error("redirect to plain http followed")
	}
}
