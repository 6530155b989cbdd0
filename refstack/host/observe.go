package host

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/checkpoint"
	"github.com/geodrill/geodrill/refstack/controller"
	"github.com/geodrill/geodrill/refstack/internal/promreg"
)

// metrics of one host, served on /metrics from a registry of its own (promreg).
type metrics struct {
	handler     http.Handler
	ops         *prometheus.CounterVec
	takeovers   prometheus.Counter
	leaseLosses prometheus.Counter
	checkpoints *prometheus.CounterVec
}

func (h *Host) setupObservability() error {
	m := &metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodrill_host_ops_total",
			Help: "API operations served, by kind (get, put, cas) and outcome (ok, fail, unknown).",
		}, []string{"kind", "outcome"}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "geodrill_host_takeovers_total",
			Help: "Successful takeover transactions (each bumped an agent's epoch).",
		}),
		leaseLosses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "geodrill_host_lease_losses_total",
			Help: "Times the host lost its ownership lease and dropped every agent.",
		}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodrill_host_checkpoint_publishes_total",
			Help: "Checkpoint metadata publishes, by result (ok, fenced, error).",
		}, []string{"result"}),
	}
	served := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "geodrill_host_agents_served",
		Help: "Agents this host serves (restored, not dropped).",
	}, func() float64 { return float64(len(h.Status().Agents)) })
	epochs := newEpochCollector(h)
	var reg *prometheus.Registry
	reg, m.handler = promreg.New(m.ops, m.takeovers, m.leaseLosses, m.checkpoints, served, epochs)
	h.metrics = m

	if h.cfg.Controller != nil {
		cc := *h.cfg.Controller
		cc.Region, cc.Client, cc.Logger, cc.TLS = h.cfg.Region, h.cli, h.cfg.Logger, h.cfg.TLSClient
		cc.Metrics = controller.NewMetrics(reg)
		ctrl, err := controller.New(cc)
		if err != nil {
			return err
		}
		h.ctrl = ctrl
	}
	return nil
}

// epochCollector exports the epoch this host serves each agent at.
type epochCollector struct {
	h    *Host
	desc *prometheus.Desc
}

func newEpochCollector(h *Host) *epochCollector {
	return &epochCollector{h: h, desc: prometheus.NewDesc("geodrill_host_agent_epoch",
		"Epoch (fencing token) of each agent this host serves.", []string{"agent"}, nil)}
}

func (c *epochCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *epochCollector) Collect(ch chan<- prometheus.Metric) {
	for agent, epoch := range c.h.Status().Agents {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(epoch), agent)
	}
}

// countOps wraps an API handler to count its outcomes: ok for 2xx, else the outcome the
// handler put in the response header.
func (h *Host) countOps(kind string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next(sw, r)
		outcome := "ok"
		if sw.status >= 300 {
			outcome = w.Header().Get(api.HeaderOutcome)
			if outcome == "" {
				outcome = "status_" + strconv.Itoa(sw.status)
			}
		}
		h.metrics.ops.WithLabelValues(kind, outcome).Inc()
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

// observePublish counts one checkpoint metadata publish and logs it as a structured event
// the report can pick out of the host log: ok, fenced (a newer epoch exists) or error.
func (h *Host) observePublish(a *agent, om checkpoint.ObjectMeta, err error) {
	result := "ok"
	switch {
	case errors.Is(err, errFenced):
		result = "fenced"
	case err != nil:
		result = "error"
	}
	h.metrics.checkpoints.WithLabelValues(result).Inc()
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	h.log.Log(context.Background(), level, "checkpoint publish", "event", "checkpoint_publish", "result", result,
		"agent", a.name, "epoch", a.epoch, "kind", om.Kind, "seq", om.Seq, "object", om.Object,
		"regions", om.Regions, "err", err)
}
