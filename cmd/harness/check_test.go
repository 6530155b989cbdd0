package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReplaysSavedVerdicts: `harness check` on a saved run gives its verdicts and says
// they match results.json; an edited results.json is a harness failure (11), not a pass.
func TestCheckReplaysSavedVerdicts(t *testing.T) {
	saved := filepath.Join("..", "..", "checkers", "testdata", "saved")
	for _, tc := range []struct {
		dir  string
		code int
	}{{"healthy", exitPass}, {"ack-before-commit", exitCheck}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"check", filepath.Join(saved, tc.dir)}, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String(), "replay: same verdicts as the saved results.json") {
			t.Errorf("check %s: exit %d (want %d)\n%s%s", tc.dir, code, tc.code, out.String(), errOut.String())
		}
	}

	tampered := t.TempDir()
	for _, f := range []string{"scenario.yaml", "timeline.jsonl", "history.jsonl", "results.json"} {
		b, err := os.ReadFile(filepath.Join(saved, "healthy", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "results.json" {
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			v := doc["results"].([]any)[0].(map[string]any)["verdicts"].([]any)[0].(map[string]any)
			v["status"] = "fail"
			if b, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(tampered, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"check", tampered}, &out, &errOut); code != exitHarness ||
		!strings.Contains(out.String(), "DIFFERENT verdicts") {
		t.Errorf("tampered results.json: exit %d, want %d\n%s%s", code, exitHarness, out.String(), errOut.String())
	}
}
