package controller

import "github.com/prometheus/client_golang/prometheus"

// Metrics of a controller. A nil *Metrics records nothing.
type Metrics struct {
	probes      *prometheus.CounterVec
	revocations *prometheus.CounterVec
	failbacks   *prometheus.CounterVec
	leader      prometheus.Gauge
}

// NewMetrics registers the controller's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodrill_controller_probes_total",
			Help: "Health probes of agent hosts, by probed region and result (ok, fail).",
		}, []string{"target_region", "result"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodrill_controller_revocations_total",
			Help: "Host leases revoked because the region was declared dead.",
		}, []string{"target_region"}),
		failbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodrill_controller_failback_agents_total",
			Help: "Agents handed back to their home region.",
		}, []string{"target_region"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "geodrill_controller_leader",
			Help: "1 while this controller is the elected leader.",
		}),
	}
	reg.MustRegister(m.probes, m.revocations, m.failbacks, m.leader)
	return m
}

func (m *Metrics) probe(region string, ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "fail"
	}
	m.probes.WithLabelValues(region, result).Inc()
}

func (m *Metrics) revoked(region string) {
	if m != nil {
		m.revocations.WithLabelValues(region).Inc()
	}
}

func (m *Metrics) failedBack(region string, n int) {
	if m != nil {
		m.failbacks.WithLabelValues(region).Add(float64(n))
	}
}

func (m *Metrics) setLeader(on bool) {
	if m == nil {
		return
	}
	if on {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}
