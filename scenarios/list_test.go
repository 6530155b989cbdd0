package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"b.yaml":          strings.Replace(base, "name: t", "name: beta\ndescription: second", 1),
		"a.yaml":          strings.Replace(base, "name: t", "name: alpha\ndescription: |\n  first\n", 1),
		"broken.yaml":     "name: [\n",
		"notes.txt":       "not a scenario",
		"testdata/x.yaml": base,
	})
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, desc string
		bad        bool
	}{{"alpha", "first", false}, {"beta", "second", false}, {"broken", "", true}}
	if len(got) != len(tests) {
		t.Fatalf("List = %+v, want %d entries", got, len(tests))
	}
	for i, w := range tests {
		e := got[i]
		if e.Name != w.name || e.Description != w.desc || (e.Err != nil) != w.bad || filepath.Dir(e.Path) != dir {
			t.Errorf("entry %d = %+v, want name %q desc %q bad %v", i, e, w.name, w.desc, w.bad)
		}
	}
	if _, err := List(filepath.Join(dir, "missing")); err == nil {
		t.Error("List of a missing directory succeeded")
	}
}

// TestShippedScenariosLoad keeps every shipped scenario valid.
func TestShippedScenariosLoad(t *testing.T) {
	entries, err := List(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no shipped scenarios")
	}
	for _, e := range entries {
		if e.Err != nil {
			t.Errorf("%s: %v", e.Path, e.Err)
		}
		if e.Description == "" {
			t.Errorf("%s has no description", e.Path)
		}
	}
}

func TestFindDirAndLocate(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"scenarios/drill.yaml": base, "deep/er/file": ""})
	want := filepath.Join(root, "scenarios")
	for _, start := range []string{root, filepath.Join(root, "deep", "er"), want} {
		if got, ok := FindDir(start); !ok || got != want {
			t.Errorf("FindDir(%s) = %q, %v; want %q", start, got, ok, want)
		}
	}
	if got, ok := FindDir(t.TempDir()); ok && strings.HasPrefix(got, os.TempDir()) {
		t.Errorf("FindDir in an empty tree found %q", got)
	}

	tests := []struct {
		arg, want, errHas string
	}{
		{"drill", filepath.Join(want, "drill.yaml"), ""},
		{"drill.yaml", filepath.Join(want, "drill.yaml"), ""},
		{filepath.Join(want, "drill.yaml"), filepath.Join(want, "drill.yaml"), ""},
		{"drll", "", `did you mean "drill"?`},
		{"zzz", "", "known: drill"},
	}
	for _, tt := range tests {
		got, err := Locate(want, tt.arg)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Locate(%q) error = %v, want ~%q", tt.arg, err, tt.errHas)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Locate(%q) = %q, %v; want %q", tt.arg, got, err, tt.want)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv(EnvDir, "")
	got, err := DefaultDir() // tests run in scenarios/, which holds region-outage.yaml
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(got, "region-outage.yaml")); err != nil {
		t.Errorf("DefaultDir = %q, which lacks region-outage.yaml", got)
	}
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	if got, err := DefaultDir(); err != nil || got != dir {
		t.Errorf("DefaultDir with $%s = %q, %v; want %q", EnvDir, got, err, dir)
	}
	t.Setenv(EnvDir, filepath.Join(dir, "missing"))
	if _, err := DefaultDir(); err == nil {
		t.Error("DefaultDir with a missing $GEODRILL_SCENARIOS succeeded")
	}
}
