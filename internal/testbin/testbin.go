// Package testbin finds the binaries integration tests run (refstack, minio, harness),
// built by `make build`. Without them a test skips, unless GEODRILL_REQUIRE_INTEGRATION=1
// (set by `make test`) makes that a failure.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/geodrill/geodrill/clusters"
)

// Dir is the directory holding refstack, minio and the extra binaries named.
func Dir(t testing.TB, extra ...string) string {
	t.Helper()
	dir, err := clusters.FindBinDir("")
	if err == nil {
		for _, b := range append([]string{"refstack", "minio"}, extra...) {
			if _, serr := os.Stat(filepath.Join(dir, b)); serr != nil {
				err = serr
			}
		}
	}
	if err != nil {
		if os.Getenv("GEODRILL_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("integration binaries missing: %v", err)
		}
		t.Skipf("integration binaries missing (%v): run make test", err)
	}
	return dir
}

// HATools skips the test without the real HA stacks' programs on PATH (`make ha-tools`
// installs them), or fails it under GEODRILL_REQUIRE_INTEGRATION=1.
func HATools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("GEODRILL_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s not on PATH: make ha-tools installs it", tool)
			}
			t.Skipf("%s not on PATH: make ha-tools", tool)
		}
	}
}
