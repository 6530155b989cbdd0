package scenarios

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/geodrill/geodrill/faults"
	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/config"
	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree into a value by reflection. Unlike yaml.v3's own decoder it
// keeps going after a problem, so every unknown field and every bad value is reported with
// its own line, and it remembers where each field was so validation can point at it too.
type decoder struct {
	file    string
	lines   map[string]int  // dotted path → line of its key (or sequence item)
	tainted map[string]bool // paths whose value is missing or wrong: validation keeps quiet
	errs    []*Error
	homes   map[string][]string // field name → sections that have it, for "belongs under"
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:    file,
		lines:   map[string]int{},
		tainted: map[string]bool{},
		homes:   fieldHomes(reflect.TypeFor[Scenario]()),
	}
}

func (d *decoder) fail(path string, line int, msg, fix string) {
	d.tainted[path] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: path, Msg: msg, Fix: fix})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return // absent: the zero value, then defaults
	}
	if v.Type() == durationType { // a kind's parameters use time.Duration, written as "10s"
		var sd Duration
		d.decode(n, reflect.ValueOf(&sd).Elem(), path)
		v.SetInt(int64(sd))
		return
	}
	if v.Type() == faultType {
		d.fault(n, v, path)
		return
	}
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if err := u.UnmarshalYAML(n); err != nil {
			line := n.Line
			var le *config.LineError
			if errors.As(err, &le) {
				line, err = le.Line, le.Err
			}
			d.fail(path, line, fmt.Sprintf("%s: %v", display(path), err), fixFor(v.Type(), n))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		before := len(d.errs)
		d.decode(n, p.Elem(), path)
		if len(d.errs) == before {
			v.Set(p)
		}
	case reflect.Struct:
		d.fields(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	faultType    = reflect.TypeFor[Fault]()
)

// fault decodes one faults entry: the fields every kind has into Fault, the rest into the
// parameters of the kind it names (faults.Kind.Params), so a field no kind has, or another
// kind's, gets its own message with its line.
func (d *decoder) fault(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fields(n, v, path) // reports the shape
		return
	}
	var kind string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, val := n.Content[i], n.Content[i+1]; k.Value == "kind" && val.Kind == yaml.ScalarNode {
			kind = val.Value
		}
	}
	k, err := faults.Lookup(kind)
	var params reflect.Value
	if err == nil {
		params = reflect.ValueOf(k.Params())
	}
	common := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	own := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		_, isCommon := fieldIndex(faultType, key.Value)
		switch {
		case isCommon || key.Kind != yaml.ScalarNode:
			common.Content = append(common.Content, key, val)
		case !params.IsValid():
			// The kind is missing or unknown, and says so; its parameters cannot be judged.
			d.tainted[join(path, key.Value)] = true
		case slices.Contains(k.ParamNames(), key.Value):
			own.Content = append(own.Content, key, val)
		default:
			d.unknownParam(key, path, k)
		}
	}
	d.fields(common, v, path)
	if params.IsValid() {
		d.fields(own, params.Elem(), path)
		v.FieldByName("Params").Set(params)
	}
}

// unknownParam reports a field that is neither common to faults nor one of kind k's
// parameters, saying which kinds take it when others do.
func (d *decoder) unknownParam(key *yaml.Node, path string, k faults.Kind) {
	name := key.Value
	known := append(yamlNames(faultType), k.ParamNames()...)
	e := &Error{File: d.file, Line: key.Line, Field: join(path, name),
		Msg: fmt.Sprintf("unknown field %q %s", name, in(path))}
	switch others := faults.KindsWithParam(name); {
	case suggest(name, known) != "":
		e.Fix = fmt.Sprintf("did you mean %q?", suggest(name, known))
		d.tainted[join(path, suggest(name, known))] = true
	case len(others) > 0:
		e.Fix = fmt.Sprintf("%s is a parameter of %s; %s takes: %s", name, strings.Join(others, ", "), k.Name,
			strings.Join(known, ", "))
	default:
		e.Fix = "known fields: " + strings.Join(known, ", ")
	}
	d.errs = append(d.errs, e)
}

// fields decodes a mapping into a struct, by yaml tag name.
func (d *decoder) fields(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n.Line, fmt.Sprintf("%s: want a mapping of fields, got a %s", display(path), kindName(n)),
			"known fields: "+strings.Join(yamlNames(v.Type()), ", "))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k.Line, fmt.Sprintf("%s: a field name must be a plain word, got a %s", display(path), kindName(k)), "")
			continue
		}
		name, fpath := k.Value, join(path, k.Value)
		if first, dup := seen[name]; dup {
			d.fail(fpath, k.Line, fmt.Sprintf("duplicate field %q %s (first at line %d)", name, in(path), first),
				"keep one of them")
			continue
		}
		seen[name] = k.Line
		idx, ok := fieldIndex(v.Type(), name)
		if !ok {
			d.unknown(k, path, v.Type())
			continue
		}
		d.lines[fpath] = k.Line
		d.decode(val, v.Field(idx), fpath)
	}
}

func (d *decoder) unknown(k *yaml.Node, path string, t reflect.Type) {
	name := k.Value
	known := yamlNames(t)
	e := &Error{File: d.file, Line: k.Line, Field: join(path, name),
		Msg: fmt.Sprintf("unknown field %q %s", name, in(path))}
	if s := suggest(name, known); s != "" {
		e.Fix = fmt.Sprintf("did you mean %q?", s)
		d.tainted[join(path, s)] = true // it was probably meant to set s; don't also call s missing
	} else if homes := d.homes[name]; len(homes) > 0 {
		e.Fix = fmt.Sprintf("%q belongs %s", name, strings.Join(homes, " or "))
	} else {
		e.Fix = "known fields: " + strings.Join(known, ", ")
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n.Line, fmt.Sprintf("%s: want a list, got a %s", display(path), kindName(n)),
			"write a list, e.g. [a, b, c] or one \"- item\" per line")
		return
	}
	if len(n.Content) == 0 {
		return // [] and absent are the same: nil
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		d.lines[ipath] = item.Line
		d.decode(item, s.Index(i), ipath)
	}
	v.Set(s)
}

// mapping decodes a mapping with string keys into a Go map (topology.placement).
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n.Line, fmt.Sprintf("%s: want a mapping, got a %s", display(path), kindName(n)),
			"write one \"key: value\" per line")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k.Line, fmt.Sprintf("%s: keys must be plain words, got a %s", display(path), kindName(k)), "")
			continue
		}
		kpath := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.fail(kpath, k.Line, fmt.Sprintf("duplicate key %q in %s (first at line %d)", k.Value, path, first),
				"keep one of them")
			continue
		}
		seen[k.Value] = k.Line
		d.lines[kpath] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		before := len(d.errs)
		d.decode(val, elem, kpath)
		if len(d.errs) == before {
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
	}
	v.Set(m)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	want := kindWord(v.Kind())
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n.Line, fmt.Sprintf("%s: want %s, got a %s", display(path), want, kindName(n)), "")
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.fail(path, n.Line, fmt.Sprintf("%s: want %s, got %q", display(path), want, n.Value), fixFor(v.Type(), n))
	}
}

// fixFor suggests how to write a value of type t, given what was written.
func fixFor(t reflect.Type, n *yaml.Node) string {
	if t == reflect.TypeFor[Duration]() || t == durationType {
		return `write a number with a unit, e.g. "10s", "500ms" or "1m30s"`
	}
	if t == reflect.TypeFor[config.Unsafe]() {
		return "e.g. unsafe: {no-fencing: true, router-ignores-epochs: 5s}; switches: " + strings.Join(bugs.Names(), ", ")
	}
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil && !quoted {
			return "use a whole number"
		}
		if _, err := strconv.ParseInt(n.Value, 10, 64); err == nil && quoted {
			return "write it without quotes"
		}
	case reflect.Float64, reflect.Float32:
		if strings.HasSuffix(n.Value, "%") {
			return "write a ratio, e.g. 0.8 for 80%"
		}
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil && quoted {
			return "write it without quotes"
		}
	case reflect.Bool:
		return "use true or false"
	}
	return ""
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return fmt.Sprintf("value %q", n.Value)
	default:
		return "node"
	}
}

func kindWord(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	default:
		return "a " + k.String()
	}
}

// yamlName is a struct field's YAML name: the tag, or yaml.v3's default (lower case).
func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func yamlNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Tag.Get("yaml") != "-" {
			out = append(out, yamlName(f))
		}
	}
	return out
}

func fieldIndex(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Tag.Get("yaml") != "-" && yamlName(f) == name {
			return i, true
		}
	}
	return 0, false
}

// fieldHomes maps every field name in the scenario schema to the sections that have it.
func fieldHomes(root reflect.Type) map[string][]string {
	homes := map[string][]string{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			if t.Kind() == reflect.Slice {
				path += "[]"
			}
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[Duration]() {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("yaml") == "-" {
				continue
			}
			name := yamlName(f)
			homes[name] = append(homes[name], in(path))
			walk(f.Type, join(path, name))
		}
	}
	walk(root, "")
	for _, k := range faults.Kinds {
		for _, name := range k.ParamNames() {
			if h := in("faults[]"); !slices.Contains(homes[name], h) {
				homes[name] = append(homes[name], h)
			}
		}
	}
	for _, h := range homes {
		sort.Strings(h)
	}
	return homes
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// in says where a field is for messages: "in stack", "in faults[0]", "in a faults entry",
// "at the top level".
func in(path string) string {
	switch {
	case path == "":
		return "at the top level"
	case strings.HasSuffix(path, "[]"):
		return "in a " + strings.TrimSuffix(path, "[]") + " entry"
	}
	return "in " + path
}

// display names a field for messages; the top level is "scenario".
func display(path string) string {
	if path == "" {
		return "scenario"
	}
	return path
}
