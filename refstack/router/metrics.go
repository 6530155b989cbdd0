package router

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/internal/promreg"
)

// metrics of a router, on a registry of its own (promreg) so several routers can share a
// process.
type metrics struct {
	handler  http.Handler
	forwards *prometheus.CounterVec
	cache    *prometheus.CounterVec
}

func newMetrics(rt *Router) *metrics {
	m := &metrics{
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodrill_router_requests_total",
			Help: "Agent requests answered, by HTTP status and outcome header (ok, fail, unknown).",
		}, []string{"status", "outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodrill_router_owner_cache_total",
			Help: "Owner cache lookups with an owner TTL: hit, refresh (expired or new), miss_no_owner.",
		}, []string{"result"}),
	}
	owners := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "geodrill_router_owners",
		Help: "Agents the router currently knows an owner for (from the etcd watch).",
	}, func() float64 {
		rt.mu.RLock()
		defer rt.mu.RUnlock()
		return float64(len(rt.owners))
	})
	_, m.handler = promreg.New(m.forwards, m.cache, owners)
	return m
}

// count wraps the forwarding handler to count what it answered.
func (m *metrics) count(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next(sw, r)
		outcome := w.Header().Get(api.HeaderOutcome)
		if outcome == "" && sw.status < 300 {
			outcome = "ok"
		}
		m.forwards.WithLabelValues(strconv.Itoa(sw.status), outcome).Inc()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
