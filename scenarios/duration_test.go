package scenarios

import (
	"encoding/json"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDurationText(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"10s", 10 * time.Second, false},
		{"500ms", 500 * time.Millisecond, false},
		{"1m30s", 90 * time.Second, false},
		{"0", 0, false},
		{"-1s", -time.Second, false}, // parses; Validate rejects it where it matters
		{"10", 0, true},
		{"ten", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.wantErr || (err == nil && d.D() != tt.want) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, err %v", tt.in, d, err, tt.want, tt.wantErr)
		}
	}
}

func TestDurationJSONAndYAML(t *testing.T) {
	type wrap struct {
		D Duration `json:"d" yaml:"d"`
	}
	in := wrap{D: Duration(1500 * time.Millisecond)}
	j, err := json.Marshal(in)
	if err != nil || string(j) != `{"d":"1.5s"}` {
		t.Fatalf("json.Marshal = %s, %v", j, err)
	}
	var back wrap
	if err := json.Unmarshal(j, &back); err != nil || back != in {
		t.Errorf("json round trip = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"soon"}`), &back); err == nil {
		t.Error("json accepted a bad duration")
	}
	y, err := yaml.Marshal(in)
	if err != nil || string(y) != "d: 1.5s\n" {
		t.Fatalf("yaml.Marshal = %q, %v", y, err)
	}
	back = wrap{}
	if err := yaml.Unmarshal(y, &back); err != nil || back != in {
		t.Errorf("yaml round trip = %v, %v", back, err)
	}
	if err := yaml.Unmarshal([]byte("d: [1s]"), &back); err == nil {
		t.Error("yaml accepted a list as a duration")
	}
}
