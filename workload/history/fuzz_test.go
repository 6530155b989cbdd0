package history

import (
	"bytes"
	"testing"
)

// Whatever a history file holds, reading it neither panics nor hangs; what it accepts is
// valid op by op, has unique ids and survives a write and a second read.
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"id":1,"agent":"agent-06","key":"k2","kind":"get","value":"v2-s1","invoke_ns":2820891290,"complete_ns":2841758154,"outcome":"ok","found":true,"read":"v2-s1","region":"a","epoch":1,"status":200}` + "\n" +
		`{"id":2,"agent":"agent-06","key":"k2","kind":"put","value":"v2-s1","invoke_ns":2821933165,"complete_ns":2842903334,"outcome":"ok","region":"a","epoch":1,"status":200}` + "\n"))
	f.Add([]byte(`{"id":3,"agent":"a","key":"k","kind":"cas","value":"v","expect":"","invoke_ns":1,"complete_ns":2,"outcome":"unknown"}`))
	f.Add([]byte(`{"id":1,"kind":"put","outcome":"OK"}`))
	f.Add([]byte(`{"id":1}` + "\n" + `{"id":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadJSONL(bytes.NewReader(data))
		if err != nil {
			return
		}
		seen := map[int64]bool{}
		for _, op := range h {
			if err := op.Validate(); err != nil {
				t.Fatalf("accepted an invalid op %+v: %v", op, err)
			}
			if seen[op.ID] {
				t.Fatalf("accepted op id %d twice", op.ID)
			}
			seen[op.ID] = true
		}
		var buf bytes.Buffer
		if err := h.WriteJSONL(&buf); err != nil {
			t.Fatalf("write what was read: %v", err)
		}
		again, err := ReadJSONL(&buf)
		if err != nil || len(again) != len(h) {
			t.Fatalf("read back %d of %d ops: %v", len(again), len(h), err)
		}
	})
}
