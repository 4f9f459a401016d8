package doctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEPolicyIsTheDemos: the access policy the README shows is the
// demo's policy file, piece by piece ("..." elides), in order.
func TestREADMEPolicyIsTheDemos(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(root, "examples", "demo", "policy.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```json\n")
	if !ok {
		t.Fatal("the README shows no JSON block")
	}
	block, _, _ = strings.Cut(block, "```")
	if !strings.Contains(block, `"careteam"`) || !strings.Contains(block, `"analytics"`) {
		t.Fatalf("the README's JSON block is not the demo's policy:\n%s", block)
	}
	var ps []string
	for _, p := range strings.Split(normalize(block), "...") {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, p)
		}
	}
	if !containsInOrder(normalize(string(file)), ps) {
		t.Errorf("the README's policy is not policy.example.json:\n%s", block)
	}
}
