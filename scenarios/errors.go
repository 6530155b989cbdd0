package scenarios

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one problem in a scenario file: where it is, which field, what is wrong and how
// to fix it. Parse and Validate return every problem they find, joined with errors.Join.
type Error struct {
	File  string // as given to Parse or Load; empty for a scenario built in code
	Line  int    // 1-based; 0 when unknown
	Field string // dotted path, e.g. workload.rate or faults[0].region
	Msg   string
	Fix   string // how to fix it, e.g. `did you mean "durability"?`
}

// Error reads like: scenarios/x.yaml:7: unknown field "durabilty" in stack; did you mean "durability"?
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(cut(e.Msg))
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(cut(e.Fix))
	}
	return b.String()
}

// cut shortens a message that repeats a long value from the file.
func cut(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes in all)", strings.ToValidUTF8(s[:maxMessage], ""), len(s))
}

// Errors returns the *Error values inside err (one, or several joined), in order.
func Errors(err error) []*Error {
	if err == nil {
		return nil
	}
	var out []*Error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	var e *Error
	if errors.As(err, &e) {
		out = append(out, e)
	}
	return out
}

// suggest returns the candidate closest to name by edit distance, or "" when none is close
// enough to be a plausible typo.
func suggest(name string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(norm(name), norm(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	// Allow about one edit per three characters, at least two: "durabilty", "lease-ttl",
	// "rto95" are typos; "foo" for "seed" is not.
	limit := max(2, len(name)/3)
	if bestDist < 0 || bestDist > limit || bestDist >= len(name) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance with adjacent transpositions counted as one edit
// (optimal string alignment), the commonest typo.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
