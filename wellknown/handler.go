package wellknown

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rs/cors"
)

// MaxAge is how long, in seconds, clients and shared caches may keep the
// document (Cache-Control: public, max-age=3600) and browsers a CORS
// preflight answer. After that they revalidate with If-None-Match and get a
// 304 while the document is unchanged.
const MaxAge = 3600

// WellKnownPath is the path SMART appends to the FHIR base URL.
const WellKnownPath = "/.well-known/smart-configuration"

// Handler validates doc and returns a handler serving it, or the errors of
// [Configuration.Validate]. The JSON is encoded once, here.
//
// The handler needs no token and:
//   - answers GET and HEAD with 200, Content-Type: application/json whatever
//     Accept says, Cache-Control: public, max-age=[MaxAge], and a strong
//     ETag; a matching If-None-Match (a list, weak comparison, or "*") gets
//     304 Not Modified;
//   - is open to any origin (Access-Control-Allow-Origin: *, without
//     credentials) and answers CORS preflight requests itself;
//   - answers any other OPTIONS with 204 and any other method with 405,
//     both with Allow: GET, HEAD, OPTIONS.
//
// Mount it at [Path] of the FHIR base URL, outside any authentication.
func Handler(doc Configuration) (http.Handler, error) {
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	h, err := newHandler(doc)
	if err != nil {
		return nil, err
	}
	return openCORS(h), nil
}

// newHandler encodes doc, once, into a handler that serves it.
func newHandler(doc any) (*handler, error) {
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("wellknown: encoding the document: %w", err)
	}
	sum := sha256.Sum256(body)
	h := &handler{
		body:   body,
		etag:   `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`,
		length: []string{strconv.Itoa(len(body))},
	}
	h.etagHeader = []string{h.etag}
	return h, nil
}

// openCORS opens h to any origin, without credentials, for GET and HEAD,
// and answers CORS preflight requests: the documents of this package are
// public.
func openCORS(h http.Handler) http.Handler {
	c := cors.New(cors.Options{
		AllowedOrigins: []string{"*"},
		AllowedMethods: []string{http.MethodGet, http.MethodHead},
		AllowedHeaders: []string{"*"},
		ExposedHeaders: []string{"ETag"},
		MaxAge:         MaxAge,
	})
	return c.Handler(h)
}

// Header values shared by every response. They are assigned to the header
// map directly, which saves an allocation per header and request; nothing
// in this package changes them.
var (
	contentTypeJSON = []string{"application/json"}
	cacheControl    = []string{"public, max-age=" + strconv.Itoa(MaxAge)}
	allowMethods    = []string{"GET, HEAD, OPTIONS"}
	noSniff         = []string{"nosniff"}
)

type handler struct {
	body       []byte
	etag       string   // quoted strong entity tag
	etagHeader []string // {etag}
	length     []string // {len(body)}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		hdr["Allow"] = allowMethods
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		hdr["Allow"] = allowMethods
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	hdr["Cache-Control"] = cacheControl
	hdr["Etag"] = h.etagHeader
	if inm, ok := r.Header["If-None-Match"]; ok && noneMatch(inm, h.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr["Content-Type"] = contentTypeJSON
	hdr["Content-Length"] = h.length
	hdr["X-Content-Type-Options"] = noSniff
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(h.body)
	}
}

// noneMatch reports whether the If-None-Match field lines match etag, a
// quoted strong entity tag, by the weak comparison of RFC 9110 §13.1.2: "*"
// matches, and so does etag or W/etag anywhere in the lists. A malformed
// list stops matching where it breaks.
func noneMatch(lines []string, etag string) bool {
	for _, s := range lines {
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			if s[0] == '*' {
				return true
			}
			s = strings.TrimPrefix(s, "W/")
			if s == "" || s[0] != '"' {
				break
			}
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				break
			}
			if s[:end+2] == etag {
				return true
			}
			s = s[end+2:]
		}
	}
	return false
}

// Path returns the path at which to serve the discovery document of the FHIR
// server whose base URL is fhirBase: its path followed by [WellKnownPath]
// ("https://ehr.example.com/r4" gives "/r4/.well-known/smart-configuration").
// SMART appends the segment after the base path, unlike RFC 8615. fhirBase
// may also be a path ("/r4").
//
//	p, err := wellknown.Path("https://ehr.example.com/r4")
//	mux.Handle(p, h)
func Path(fhirBase string) (string, error) {
	u, err := url.Parse(fhirBase)
	if err != nil {
		return "", fmt.Errorf("wellknown: FHIR base URL: %w", err)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(fhirBase, "?#") {
		return "", fmt.Errorf("wellknown: FHIR base URL %q has a query or fragment", fhirBase)
	}
	if u.Opaque != "" || (u.Path != "" && !strings.HasPrefix(u.Path, "/")) {
		return "", fmt.Errorf("wellknown: FHIR base URL %q is neither an absolute URL nor an absolute path", fhirBase)
	}
	return strings.TrimRight(u.EscapedPath(), "/") + WellKnownPath, nil
}
