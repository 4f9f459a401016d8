package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"

	"github.com/smartguard/smartguard/scope"
)

// A Bulk Data job is bound to the client that started it by a signed
// value in every URL the client gets for it (the status URL of the
// kick-off's Content-Location, the manifest's file URLs): the Engine
// keeps no state, and any replica holding the same key checks it.
//
//	token   = base64url(payload) "." base64url(HMAC-SHA256(key, domain || payload))
//	domain  = "smartguard/export/v1\n" base URL "\n"
//
// The payload is binary: a version byte, the kind, the scope context,
// the expiry (Unix seconds, 8 bytes big-endian), then length-prefixed
// (uvarint) strings in a fixed order. The base URL in the MAC's domain
// ties a token to the base (tenant) that minted it.

// The kinds of job token.
const (
	tokenPoll    = 'p' // the status URL: GET polls, DELETE cancels
	tokenFile    = 'f' // an output or error file of the manifest
	tokenDeleted = 'd' // a file of the manifest's "deleted" list (transaction Bundles of DELETEs)
	tokenReport  = 'r' // the OperationOutcome file the guard adds: lines withheld
)

const tokenVersion = 1

// maxTokenLen bounds a job token the Engine decodes.
const maxTokenLen = 16 << 10

// jobToken is what a job token says.
type jobToken struct {
	kind byte
	ctx  scope.Context
	exp  int64 // Unix seconds

	iss, client, user string // who started the job
	job               string // the job's random id (the report's counts)
	level             string // "" (system), "Patient", or "Group/<id>"
	path              string // the handler's URL relative to the base, with its query
	types             string // the job's types, comma-separated, or "*"
	scopes            string // the job's granular scopes (space-separated), "" for none
	fileType          string // a file's resource type ("" for the status URL)
}

// fields lists the string fields in their order in the payload.
func (t *jobToken) fields() [9]*string {
	return [...]*string{&t.iss, &t.client, &t.user, &t.job, &t.level, &t.path, &t.types, &t.scopes, &t.fileType}
}

var errBadToken = errors.New("not a job token of this server")

// exportDomain is the MAC's domain for the base URL base.
func exportDomain(base string) string { return "smartguard/export/v1\n" + base + "\n" }

// encode returns t signed with key for the base URL base.
func (t *jobToken) encode(key []byte, base string) string {
	p := make([]byte, 0, 128)
	p = append(p, tokenVersion, t.kind, byte(t.ctx))
	p = binary.BigEndian.AppendUint64(p, uint64(t.exp))
	for _, f := range t.fields() {
		p = binary.AppendUvarint(p, uint64(len(*f)))
		p = append(p, *f...)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(exportDomain(base)))
	mac.Write(p)
	enc := base64.RawURLEncoding
	var b strings.Builder
	b.Grow(enc.EncodedLen(len(p)) + 1 + enc.EncodedLen(sha256.Size))
	b.WriteString(enc.EncodeToString(p))
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(mac.Sum(nil)))
	return b.String()
}

// decodeJobToken checks s, a token minted with key for the base URL
// base, and returns what it says. It checks the signature before it
// reads anything of the payload, and refuses any token that is not
// exactly what encode makes (trailing bytes, unknown kind or context),
// but not the expiry: the caller compares exp with its clock.
func decodeJobToken(s string, key []byte, base string) (*jobToken, error) {
	if len(s) > maxTokenLen || len(key) == 0 {
		return nil, errBadToken
	}
	ps, ms, ok := strings.Cut(s, ".")
	if !ok {
		return nil, errBadToken
	}
	enc := base64.RawURLEncoding.Strict()
	p, err := enc.DecodeString(ps)
	if err != nil {
		return nil, errBadToken
	}
	sum, err := enc.DecodeString(ms)
	if err != nil || len(sum) != sha256.Size {
		return nil, errBadToken
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(exportDomain(base)))
	mac.Write(p)
	if !hmac.Equal(sum, mac.Sum(nil)) {
		return nil, errBadToken
	}
	if len(p) < 11 || p[0] != tokenVersion {
		return nil, errBadToken
	}
	t := &jobToken{kind: p[1], ctx: scope.Context(p[2]), exp: int64(binary.BigEndian.Uint64(p[3:11]))}
	switch t.kind {
	case tokenPoll, tokenFile, tokenDeleted, tokenReport:
	default:
		return nil, errBadToken
	}
	if t.ctx != scope.System && t.ctx != scope.User {
		return nil, errBadToken
	}
	p = p[11:]
	for _, f := range t.fields() {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return nil, errBadToken
		}
		*f = string(p[k : k+int(n)])
		p = p[k+int(n):]
	}
	if len(p) != 0 {
		return nil, errBadToken
	}
	return t, nil
}

// typeList returns the job's types: nil for every type ("*").
func (t *jobToken) typeList() []string {
	if t.types == "*" {
		return nil
	}
	return strings.Split(t.types, ",")
}

// hasType reports whether typ is one of the job's types.
func (t *jobToken) hasType(typ string) bool {
	if t.types == "*" {
		return true
	}
	for s := range strings.SplitSeq(t.types, ",") {
		if s == typ {
			return true
		}
	}
	return false
}
