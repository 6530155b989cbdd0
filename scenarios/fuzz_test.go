package scenarios

import (
	"os"
	"path/filepath"
	"testing"
)

// Whatever a scenario file holds, Parse neither panics nor hangs, and every problem it
// reports is an *Error (the CLI turns those into exit 2 with file, line and fix). The seed
// corpus is every scenario in the repository, good and bad.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"*.yaml", "selftest/*.yaml", "testdata/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(base + "faults:\n  - {kind: partition, shape: bridge, region: a, at: 1s, duration: 1s}\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		switch {
		case err == nil && s == nil:
			t.Fatal("no scenario and no error")
		case err != nil && s != nil:
			t.Fatal("a scenario and an error")
		case err != nil && len(Errors(err)) == 0:
			t.Fatalf("an error that is not a scenario error: %v", err)
		}
	})
}
