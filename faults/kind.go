package faults

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// KindOf is a fault kind written with its parameters typed: P is a struct whose yaml tags
// name the fields a scenario writes beside kind, region, at, duration and trigger (NoParams
// for a kind that takes none). A kind's file declares one KindOf; the Kinds table holds its
// Kind().
type KindOf[P any] struct {
	Name string
	// NeedsController: the kind works through the stack's failover controller.
	NeedsController bool
	// Check reports what is wrong with s and p, field by field, when a scenario is loaded.
	Check func(s Spec, p *P, c ParamCheck)
	// Draw, when set, lets the nemesis draw the kind: it sets s's region and p from d.
	Draw func(s *Spec, p *P, d Draws)
	// Realise reports how the given cluster can realise this kind, and why.
	Realise func(cluster any) (Realisation, string)
	// New builds the fault.
	New func(s Spec, p *P) (Fault, error)
}

// NoParams is the parameters of a kind that takes nothing beyond its region.
type NoParams struct{}

// Kind erases the parameters' type for the table.
func (k KindOf[P]) Kind() Kind {
	out := Kind{
		Name:            k.Name,
		NeedsController: k.NeedsController,
		Params:          func() any { return new(P) },
		Realise:         k.Realise,
		Check: func(s Spec, c ParamCheck) {
			p, err := paramsOf[P](s)
			if err != nil {
				c.Problem("kind", "", err.Error())
				return
			}
			if k.Check != nil {
				k.Check(s, p, c)
			}
		},
		New: func(s Spec) (Fault, error) {
			p, err := paramsOf[P](s)
			if err != nil {
				return nil, err
			}
			return k.New(s, p)
		},
	}
	if k.Draw != nil {
		out.Draw = func(s *Spec, d Draws) {
			p := new(P)
			k.Draw(s, p, d)
			s.Params = p
		}
	}
	return out
}

// paramsOf is s's parameters as the kind's type: zero when the spec has none.
func paramsOf[P any](s Spec) (*P, error) {
	switch p := s.Params.(type) {
	case nil:
		return new(P), nil
	case *P:
		if p == nil {
			return new(P), nil
		}
		return p, nil
	default:
		return nil, fmt.Errorf("%s takes parameters of type %T, got %T", s.Kind, new(P), s.Params)
	}
}

// ParamNames lists the scenario names of a kind's parameters (its params struct's yaml
// tags), in declaration order.
func (k Kind) ParamNames() []string {
	if k.Params == nil {
		return nil
	}
	t := reflect.TypeOf(k.Params()).Elem()
	var out []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// KindsWithParam lists the kinds that take the parameter named name, in table order.
func KindsWithParam(name string) []string {
	var out []string
	for _, k := range Kinds {
		if slices.Contains(k.ParamNames(), name) {
			out = append(out, k.Name)
		}
	}
	return out
}

// Target is what a fault hits, for telling whether two faults of one kind overlap on one
// target: the kind, the region and every parameter tagged `fault:"target"` (a service, a
// path, the ends of a link).
func (s Spec) Target() string {
	parts := []string{s.Kind, s.Region}
	v := reflect.ValueOf(s.Params)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("fault") == "target" {
				parts = append(parts, fmt.Sprint(v.Field(i).Interface()))
			}
		}
	}
	return strings.Join(parts, "\x00")
}
