package doctest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository's top directory, seen from this package.
const root = "../.."

// normalize folds every run of white space into one space, so that a
// snippet and the gofmt'ed test that runs it compare equal.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

var importBlock = regexp.MustCompile(`(?s)^\s*import\s*(\([^)]*\)|"[^"]*"|\w+\s+"[^"]*")\s*`)

// code drops what a test cannot hold verbatim (import declarations) and
// returns the snippet normalized, or "" when nothing is left to run.
func code(snippet string) string {
	return normalize(importBlock.ReplaceAllString(snippet, ""))
}

// pieces splits a normalized snippet where it elides code ("..." alone on
// a line, or "{ ... }"): each piece must appear, in order, in the test.
func pieces(snippet string) []string {
	var out []string
	for _, p := range strings.Split(code(snippet), "...") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// containsInOrder reports whether src holds every piece, in order.
func containsInOrder(src string, ps []string) bool {
	for _, p := range ps {
		i := strings.Index(src, p)
		if i < 0 {
			return false
		}
		src = src[i+len(p):]
	}
	return true
}

// readmeSnippets returns the ```go blocks of a Markdown file.
func readmeSnippets(text string) []string {
	var out []string
	for {
		i := strings.Index(text, "```go\n")
		if i < 0 {
			return out
		}
		text = text[i+len("```go\n"):]
		j := strings.Index(text, "```")
		if j < 0 {
			return out
		}
		out = append(out, text[:j])
		text = text[j+3:]
	}
}

// docSnippets returns the code blocks (tab-indented comment lines) of a
// package's doc comment.
func docSnippets(src string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, line := range strings.Split(src, "\n") {
		switch {
		case strings.HasPrefix(line, "//\t"):
			cur = append(cur, strings.TrimPrefix(line, "//\t"))
		case line == "//" && len(cur) > 0:
			cur = append(cur, "")
		default:
			flush()
		}
		if strings.HasPrefix(line, "package ") {
			break
		}
	}
	flush()
	return out
}

// testSources returns every _test.go file of the repository, normalized.
func testSources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") && !strings.HasSuffix(path, "doctest_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[path] = normalize(string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSnippetsRunVerbatim: each Go snippet of the README, of docs/ and of
// the package docs appears, verbatim but for white space and imports, in a
// test file, which runs it.
func TestSnippetsRunVerbatim(t *testing.T) {
	tests := testSources(t)
	type snippet struct{ where, text string }
	var all []snippet
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]string{filepath.Join(root, "README.md")}, pages...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		for i, s := range readmeSnippets(string(b)) {
			all = append(all, snippet{rel + " go block " + string(rune('1'+i)), s})
		}
	}
	docs, err := filepath.Glob(filepath.Join(root, "*", "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(root, "middleware", "*", "doc.go"))
	stores, _ := filepath.Glob(filepath.Join(root, "store", "*", "doc.go"))
	more = append(more, stores...)
	for _, p := range append(docs, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range docSnippets(string(b)) {
			rel, _ := filepath.Rel(root, p)
			all = append(all, snippet{rel + " block " + string(rune('1'+i)), s})
		}
	}
	if len(all) < 5 {
		t.Fatalf("found %d snippets: the extraction is broken", len(all))
	}
	for _, s := range all {
		ps := pieces(s.text)
		if len(ps) == 0 {
			continue
		}
		found := false
		for _, src := range tests {
			if containsInOrder(src, ps) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s is run by no test; put it verbatim in one:\n%s", s.where, s.text)
		}
	}
}

func TestExtraction(t *testing.T) {
	md := "text\n```go\nx := 1\n```\n```sh\nls\n```\n```go\nimport \"fmt\"\nfmt.Println()\n```\n"
	got := readmeSnippets(md)
	if len(got) != 2 || code(got[0]) != "x := 1" || code(got[1]) != "fmt.Println()" {
		t.Fatalf("readme snippets %q", got)
	}
	src := "// Package p.\n//\n//\ta := 1\n//\n//\tb := 2\n// text\npackage p\n"
	if got := docSnippets(src); len(got) != 1 || code(got[0]) != "a := 1 b := 2" {
		t.Fatalf("doc snippets %q", got)
	}
	ps := pieces("f := func() {\n\tx := 1\n\t...\n}\nif err != nil { ... }")
	if len(ps) != 3 || !containsInOrder("f := func() { x := 1; y() } if err != nil { log.Fatal(err) }", ps) ||
		containsInOrder("if err != nil { log.Fatal(err) } f := func() { x := 1 }", ps) {
		t.Fatalf("pieces %q", ps)
	}
}
