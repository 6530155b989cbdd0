package faults

import (
	"encoding/json"
	"testing"
)

// corruptValues keeps the object valid JSON with the same identity and only wrong values,
// so nothing but a checksum can tell it from the truth.
func TestCorruptValues(t *testing.T) {
	orig := []byte(`{"schema":2,"kind":"full","agent":"agent-00","epoch":3,"seq":40,"data":{"k0":"v1","k1":"v2"}}`)
	bad, ok := corruptValues(orig)
	if !ok {
		t.Fatal("a checkpoint object was not recognised")
	}
	var o struct {
		Schema int               `json:"schema"`
		Kind   string            `json:"kind"`
		Agent  string            `json:"agent"`
		Seq    int64             `json:"seq"`
		Data   map[string]string `json:"data"`
	}
	if err := json.Unmarshal(bad, &o); err != nil {
		t.Fatalf("corrupted object is not valid JSON: %v", err)
	}
	if o.Schema != 2 || o.Kind != "full" || o.Agent != "agent-00" || o.Seq != 40 ||
		o.Data["k0"] != "corrupt-v1" || o.Data["k1"] != "corrupt-v2" {
		t.Fatalf("corrupted = %+v", o)
	}
	for _, notCheckpoint := range []string{`not json`, `{"data":{}}`, `{"other":1}`} {
		if _, ok := corruptValues([]byte(notCheckpoint)); ok {
			t.Errorf("%s was corrupted; only checkpoint objects with data may be", notCheckpoint)
		}
	}
}
