package conform_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/conform"
	"github.com/geodrill/geodrill/system"
)

// Row is a part as the README's contract table shows it.
func row(p conform.Part) string {
	return "| `" + p.Name + "` | " + string(p.Need) + " | " + strings.ReplaceAll(p.What, "|", "\\|") + " | " +
		strings.Join(p.NeededBy, "; ") + " |"
}

// The README's contract table is conform.Parts, row for row.
func TestReadmeTableIsTheContract(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, p := range conform.Parts {
		rows = append(rows, row(p))
	}
	want := "| part | need | the system must | needed by |\n|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
	if !strings.Contains(string(b), want) {
		if os.Getenv("GEODRILL_PRINT_CONTRACT") != "" {
			os.Stdout.WriteString(want)
		}
		t.Errorf("README.md's contract table differs from conform.Parts; it should read:\n%s", want)
	}
}

// What a described system may list in serves is the contract's optional parts but the
// reference stack's own checkpoints.
func TestServesListsTheOptionalParts(t *testing.T) {
	var optional []string
	for _, p := range conform.Parts {
		if p.Need == conform.Optional && p.Name != conform.PartCheckpoints {
			optional = append(optional, p.Name)
		}
	}
	if !slices.Equal(optional, system.Optional()) {
		t.Errorf("the contract's optional parts %v, system.Optional() %v", optional, system.Optional())
	}
}
