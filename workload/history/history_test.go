package history

import (
	"errors"
	"strings"
	"testing"
)

const goodLine = `{"id":1,"agent":"agent-00","key":"k0","kind":"put","value":"v1","invoke_ns":0,"complete_ns":10,"outcome":"ok"}`

// TestReadJSONLRejectsMalformed: an op the checkers cannot judge as written is an error that
// names the line and the offending value, never an op that silently becomes "unknown".
func TestReadJSONLRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []string // substrings of the error
	}{
		{"outcome in upper case", `{"id":2,"agent":"agent-00","key":"k0","kind":"get","invoke_ns":20,"complete_ns":30,"outcome":"OK"}`,
			[]string{"line 2", `outcome "OK"`, "ok, fail and unknown"}},
		{"outcome missing", `{"id":2,"agent":"agent-00","key":"k0","kind":"put","value":"v2","invoke_ns":20,"complete_ns":30}`,
			[]string{"line 2", "no outcome", "unknown when"}},
		{"outcome misspelt", `{"id":2,"agent":"agent-00","key":"k0","kind":"put","value":"v2","invoke_ns":20,"complete_ns":30,"outcome":"timeout"}`,
			[]string{"line 2", `outcome "timeout"`}},
		{"kind missing", `{"id":2,"agent":"agent-00","key":"k0","invoke_ns":20,"complete_ns":30,"outcome":"ok"}`,
			[]string{"line 2", "no kind", "put, get or cas"}},
		{"kind unknown", `{"id":2,"agent":"agent-00","key":"k0","kind":"delete","invoke_ns":20,"complete_ns":30,"outcome":"ok"}`,
			[]string{"line 2", `kind "delete"`}},
		{"no agent", `{"id":2,"key":"k0","kind":"get","invoke_ns":20,"complete_ns":30,"outcome":"fail"}`,
			[]string{"line 2", "agent"}},
		{"completes before invoke", `{"id":2,"agent":"agent-00","key":"k0","kind":"get","invoke_ns":20,"complete_ns":10,"outcome":"fail"}`,
			[]string{"line 2", "before it was invoked"}},
		{"negative invoke", `{"id":2,"agent":"agent-00","key":"k0","kind":"get","invoke_ns":-5,"complete_ns":10,"outcome":"fail"}`,
			[]string{"line 2", "negative"}},
		{"duplicate id", `{"id":1,"agent":"agent-00","key":"k1","kind":"get","invoke_ns":20,"complete_ns":30,"outcome":"fail"}`,
			[]string{"line 2", "op id 1", "line 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadJSONL(strings.NewReader(goodLine + "\n" + tc.line + "\n"))
			if err == nil {
				t.Fatal("a malformed op was accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("well formed", func(t *testing.T) {
		line := `{"id":2,"agent":"agent-00","key":"k0","kind":"cas","expect":"v1","value":"v2","invoke_ns":20,"complete_ns":30,"outcome":"unknown"}`
		h, err := ReadJSONL(strings.NewReader(goodLine + "\n\n" + line + "\n"))
		if err != nil || len(h) != 2 {
			t.Fatalf("ReadJSONL = %d ops, %v; want 2 ops", len(h), err)
		}
	})
	if err := (Op{ID: 3, Agent: "a", Key: "k", Kind: Get, Outcome: "OK"}).Validate(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Validate = %v, want ErrMalformed", err)
	}
}
