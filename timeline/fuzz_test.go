package timeline

import (
	"bytes"
	"testing"
)

// Whatever a timeline file holds, reading it neither panics nor hangs, and what it accepts
// survives a write and a second read.
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"at_ns":62302,"kind":"phase","name":"up"}` + "\n" +
		`{"at_ns":6820748897,"kind":"inject","name":"f1:slow-replies","fault":"slow-replies","target":"a:host-etcd","detail":{"latency":"1.5s"}}` + "\n"))
	f.Add([]byte(`{"at_ns":1,"kind":"observe","name":"owner","target":"b","detail":{"agent":"agent-00","region":"b","epoch":"2"}}`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"at_ns":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := ReadJSONL(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		for _, e := range events {
			e.Owner()
			e.Agents()
			e.Loss()
		}
		var buf bytes.Buffer
		if err := WriteJSONL(&buf, events); err != nil {
			t.Fatalf("write what was read: %v", err)
		}
		again, err := ReadJSONL(&buf, "again")
		if err != nil || len(again) != len(events) {
			t.Fatalf("read back %d of %d events: %v", len(again), len(events), err)
		}
	})
}
