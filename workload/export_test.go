package workload

import "github.com/geodrill/geodrill/workload/history"

// Ops is the first n ops the generator makes for cfg, for tests outside the package.
func Ops(cfg Config, n int) []history.Op {
	g := newGenerator(cfg)
	out := make([]history.Op, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}
