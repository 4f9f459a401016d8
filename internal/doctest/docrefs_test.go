package doctest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docRef is a docs/ page named in Go source, with its anchor if any.
var docRef = regexp.MustCompile(`docs/([A-Za-z0-9_-]+\.md)(#[A-Za-z0-9_-]+)?`)

// goDocRefs returns, for each Go file of the repository that is not a
// test, the docs/ pages (and anchors) its comments name.
func goDocRefs(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, comment, ok := strings.Cut(line, "//"); ok {
				out[path] = append(out[path], docRef.FindAllString(comment, -1)...)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocCommentPagesResolve: every docs/ page a Go comment names (the
// package documentation sends readers there for the rules) exists, and
// every #anchor is a heading of that page.
func TestDocCommentPagesResolve(t *testing.T) {
	checked := 0
	for file, refs := range goDocRefs(t) {
		rel, _ := filepath.Rel(root, file)
		for _, ref := range refs {
			checked++
			page, anchor, _ := strings.Cut(ref, "#")
			md, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
			if err != nil {
				t.Errorf("%s names %s: no such page", rel, ref)
				continue
			}
			if anchor != "" && !anchors(string(md))[anchor] {
				t.Errorf("%s names %s: no heading of %s has the anchor #%s", rel, ref, page, anchor)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d references: the extraction is broken", checked)
	}
}
