package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, strictly decodes, defaults and validates a scenario file. Only a regular file
// of at most MaxFileSize bytes is read: a FIFO would block, /dev/zero would never end.
func Load(path string) (*Scenario, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readFile reads a scenario file, refusing what is not a regular file of bounded size; its
// errors are *Error, naming the file and the fix.
func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, &Error{File: path, Msg: "no such file", Fix: "check the path (harness list shows the scenarios)"}
	case err != nil:
		return nil, &Error{File: path, Msg: "cannot read: " + err.Error(), Fix: "check the path and its permissions"}
	case st.IsDir():
		return nil, &Error{File: path, Msg: "is a directory", Fix: "name a scenario file in it (harness list " + path + ")"}
	case !st.Mode().IsRegular():
		return nil, &Error{File: path, Msg: fmt.Sprintf("is not a regular file (%s)", st.Mode().Type()),
			Fix: "copy the scenario into a file and name that"}
	case st.Size() > MaxFileSize:
		return nil, &Error{File: path, Msg: fmt.Sprintf("is %d bytes, above the limit of %d", st.Size(), MaxFileSize),
			Fix: "a scenario is a few kilobytes; check that this is the file you meant"}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read: " + err.Error(), Fix: "check the path and its permissions"}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read: " + err.Error(), Fix: "check the file"}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("grew above the limit of %d bytes while read", MaxFileSize)}
	}
	return data, nil
}

// Parse strictly decodes a scenario, applies defaults and validates it. file names the
// source in errors. Every problem found is returned, each an *Error with its line, joined
// with errors.Join; see Errors. A missing name defaults to the file's base name.
func Parse(file string, data []byte) (*Scenario, error) {
	root, err := parseNode(file, data)
	if err != nil {
		return nil, err
	}
	d := newDecoder(file)
	s := &Scenario{}
	d.lines[""] = root.Line
	d.decode(root, reflect.ValueOf(s).Elem(), "")
	if s.Name == "" && !d.tainted["name"] {
		s.Name = nameFromFile(file)
	}
	s.ApplyDefaults()
	v := &validator{file: file, lines: d.lines, tainted: d.tainted, errs: d.errs}
	s.validate(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// parseNode parses exactly one YAML document and returns its root node.
func parseNode(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "the scenario is empty",
				Fix: "see scenarios/region-outage.yaml for a commented example"}
		}
		return nil, syntaxError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Msg: "more than one YAML document",
			Fix: "put one scenario per file; remove the extra \"---\""}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "the scenario is empty"}
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(file string, err error) error {
	e := &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "),
		Fix: "check the indentation and quoting"}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "invalid YAML: " + m[2]
	}
	if strings.Contains(e.Msg, "cannot start any token") {
		e.Fix = "indent with spaces; YAML does not allow tabs"
	}
	return e
}

func nameFromFile(file string) string {
	base := filepath.Base(file)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// Marshal returns the resolved scenario (defaults applied) as YAML, so a run directory
// records exactly what ran. Set the seed (EnsureSeed) before marshalling.
func (s *Scenario) Marshal() ([]byte, error) {
	resolved := *s
	resolved.ApplyDefaults()
	var buf bytes.Buffer
	buf.WriteString("# Resolved scenario: defaults applied, seed set. Re-run it with: harness run <this file>\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&resolved); err != nil {
		return nil, fmt.Errorf("scenario %s: marshal: %w", s.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("scenario %s: marshal: %w", s.Name, err)
	}
	return buf.Bytes(), nil
}
