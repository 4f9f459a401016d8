package doctest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// maxREADMELines is the project's bound on the README: what a user needs
// first; the full rules, tables and figures go to docs/.
const maxREADMELines = 350

func TestREADMEAtMost350Lines(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > maxREADMELines {
		t.Errorf("README.md has %d lines, more than %d: move the detail to a page of docs/ and link it", n, maxREADMELines)
	}
}

var (
	fence    = regexp.MustCompile("(?ms)^```.*?^```[ \t]*$")
	codeSpan = regexp.MustCompile("`[^`\n]*`")
	mdLink   = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	heading  = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$`)
	inline   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// prose returns md without its fenced code blocks and code spans, where
// a link is not a link.
func prose(md string) string {
	return codeSpan.ReplaceAllString(fence.ReplaceAllString(md, ""), "")
}

// slug is GitHub's anchor for a heading's text: its rendered text in
// lower case, with every character but letters, digits, '-', '_' and
// spaces removed, and each space turned into '-'.
func slug(h string) string {
	h = inline.ReplaceAllString(h, "$1")
	h = strings.NewReplacer("`", "", "*", "").Replace(h)
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of md's headings, numbered as GitHub
// numbers repeated ones (name, name-1, name-2, ...).
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(md, ""), -1) {
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			out[s+"-"+string(rune('0'+n))] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// TestLocalLinksResolve: every relative link of the README, of docs/ and
// of the other top-level Markdown files names a file or directory of the
// repository, and every #anchor a heading of the Markdown file it names.
func TestLocalLinksResolve(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"README.md", "CHANGELOG.md", "CONTRIBUTING.md", "SECURITY.md", filepath.Join("examples", "README.md")} {
		files = append(files, filepath.Join(root, f))
	}
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for _, m := range mdLink.FindAllStringSubmatch(prose(string(b)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			dest := f
			if path != "" {
				dest = filepath.Join(filepath.Dir(f), filepath.FromSlash(path))
			}
			checked++
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s: link %q: no such file", rel, target)
				continue
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s: link %q: an anchor into a file that is not Markdown", rel, target)
				continue
			}
			md, err := os.ReadFile(dest)
			if err != nil {
				t.Fatal(err)
			}
			if !anchors(string(md))[anchor] {
				t.Errorf("%s: link %q: no heading has the anchor #%s", rel, target, anchor)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d links: the extraction is broken", checked)
	}
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Quick start (net/http)", "quick-start-nethttp"},
		{"`user/` and `system/` scopes", "user-and-system-scopes"},
		{"Reading the grant in handlers", "reading-the-grant-in-handlers"},
		{"Patient-linked types", "patient-linked-types"},
		{"A [link](x.md) and **bold**", "a-link-and-bold"},
	} {
		if got := slug(tc.heading); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
	got := anchors("# A\n\n```sh\n# not a heading\n```\n## A\n")
	if !got["a"] || !got["a-1"] || got["not-a-heading"] {
		t.Errorf("anchors = %v", got)
	}
}
