// Package promreg is the metrics setup every reference-stack process shares: a registry of
// its own (not the global one, so several hosts or routers in one test process do not
// collide) with the Go runtime and process collectors, and the /metrics handler serving it.
package promreg

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// New returns a registry holding cs plus the Go and process collectors, and its handler.
func New(cs ...prometheus.Collector) (*prometheus.Registry, http.Handler) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(append(cs, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))...)
	return reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
