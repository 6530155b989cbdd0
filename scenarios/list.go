package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Entry is one scenario file in a directory.
type Entry struct {
	Name        string
	Description string
	Path        string
	// Err is set when the file does not load; Name is then the file's base name.
	Err error
}

// List returns the *.yaml scenarios in dir (not its subdirectories), sorted by name. A file
// that does not load is listed with Err set rather than failing the listing.
func List(dir string) ([]Entry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("scenarios: list %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("scenarios: list: %w", err)
	}
	out := make([]Entry, 0, len(paths))
	for _, p := range paths {
		e := Entry{Name: nameFromFile(p), Path: p}
		if s, err := Load(p); err != nil {
			e.Err = err
		} else {
			e.Name, e.Description = s.Name, strings.TrimSpace(s.Description)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// EnvDir names the environment variable that overrides the scenarios directory.
const EnvDir = "GEODRILL_SCENARIOS"

// DefaultDir finds the shipped scenarios: $GEODRILL_SCENARIOS if set, else a "scenarios"
// directory holding *.yaml files in the working directory or one of its parents, else one
// beside or above the running executable (bin/harness finds ../scenarios).
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("scenarios: $%s=%s is not a directory", EnvDir, d)
		}
		return d, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, s := range starts {
		if d, ok := FindDir(s); ok {
			return d, nil
		}
	}
	return "", fmt.Errorf("scenarios: no scenarios directory found from %s; set $%s or pass a file path",
		strings.Join(starts, " or "), EnvDir)
}

// FindDir looks for a "scenarios" directory holding *.yaml files in start or its parents.
func FindDir(start string) (string, bool) {
	d, err := filepath.Abs(start)
	if err != nil {
		return "", false
	}
	for {
		cand := filepath.Join(d, "scenarios")
		if m, _ := filepath.Glob(filepath.Join(cand, "*.yaml")); len(m) > 0 {
			return cand, true
		}
		up := filepath.Dir(d)
		if up == d {
			return "", false
		}
		d = up
	}
}

// Locate turns a command-line argument into a scenario file: an existing path as is, else a
// scenario name (with or without .yaml) in dir.
func Locate(dir, arg string) (string, error) {
	if fi, err := os.Stat(arg); err == nil && !fi.IsDir() {
		return arg, nil
	}
	if dir != "" && !strings.ContainsRune(arg, os.PathSeparator) {
		p := filepath.Join(dir, strings.TrimSuffix(arg, ".yaml")+".yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	var names []string
	if dir != "" {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range paths {
			names = append(names, nameFromFile(p))
		}
	}
	msg := fmt.Sprintf("scenarios: %q is neither a file nor a scenario in %s", arg, dir)
	if s := suggest(strings.TrimSuffix(arg, ".yaml"), names); s != "" {
		return "", fmt.Errorf("%s; did you mean %q?", msg, s)
	}
	if len(names) > 0 {
		return "", fmt.Errorf("%s (known: %s)", msg, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("%s", msg)
}
