package workload_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload"
)

// BenchmarkDriverVsVegeta: the load driver (seeded ops, history, outcome rule) against a
// plain vegeta attack, side by side on the same no-op agent API at the same open-loop rate
// (driverRate for driverFor); each reports what it completed per second, and the driver
// also its ratio to vegeta (goal: 0.9 or more).
func BenchmarkDriverVsVegeta(b *testing.B) {
	const driverRate, driverFor = 6000, 3 * time.Second
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderRegion, "a")
		w.Header().Set(api.HeaderEpoch, "1")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"agent":"agent-00","region":"a","epoch":1,"found":true,"value":"v"}`))
	}))
	defer srv.Close()
	agents := []string{api.AgentID(0), api.AgentID(1), api.AgentID(2), api.AgentID(3)}
	keys := []string{api.KeyName(0), api.KeyName(1)}

	for b.Loop() {
		start := time.Now()
		h, err := workload.Run(context.Background(), workload.Config{Router: srv.URL, Agents: agents, Keys: keys,
			Rate: driverRate, Duration: driverFor, Timeout: 2 * time.Second, Seed: 1,
			Mix: workload.Mix{Put: 5, Get: 4, CAS: 1}}, timeline.NewClock(), nil)
		driverSecs := time.Since(start).Seconds()
		if err != nil {
			b.Fatal(err)
		}

		start = time.Now()
		atk := vegeta.NewAttacker(vegeta.Timeout(2 * time.Second))
		tgt := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: srv.URL + "/agents/agent-00/kv/k0"})
		var plain int
		for res := range atk.Attack(tgt, vegeta.Rate{Freq: driverRate, Per: time.Second}, driverFor, "") {
			if res.Code == http.StatusOK {
				plain++
			}
		}
		plainSecs := time.Since(start).Seconds()

		driver := float64(len(h)) / driverSecs
		vegetaRate := float64(plain) / plainSecs
		b.ReportMetric(driver, "driver-ops/s")
		b.ReportMetric(vegetaRate, "vegeta-ops/s")
		b.ReportMetric(driver/vegetaRate, "ratio")
	}
}
