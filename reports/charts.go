package reports

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/timeline"
	"github.com/geodrill/geodrill/workload/history"
)

// Chart geometry, in SVG user units. Charts scale to the page width (viewBox), so these only
// set proportions and text size.
const (
	chartWidth  = 960
	plotLeft    = 64
	plotRight   = 16
	plotTop     = 30 // room for fault window labels
	plotBottom  = 26 // room for time labels
	plotWidth   = chartWidth - plotLeft - plotRight
	bucketLimit = 240 // at most this many time buckets per chart, whatever the run's length
	// agentRowLimit bounds the ownership chart; affected agents come first.
	agentRowLimit = 48
	// markLimit bounds per-op marks (lost writes) so a bad run cannot blow up the file.
	markLimit = 200
)

// Outcome colours; the same in the legend, the table and the charts.
const (
	colourOK      = "#2e9d57"
	colourFail    = "#d23c3c"
	colourUnknown = "#e3a21a"
)

var regionPalette = []string{"#3b73c8", "#8e5ac8", "#1b9e9e", "#c8663b", "#6f8f1f", "#c83b8e", "#5a5a5a", "#b59b1b"}

// chartInput is what every chart draws from, computed once per report.
type chartInput struct {
	end     time.Duration // right edge of the time axis
	bucket  time.Duration // width of one time bucket
	windows []timeline.Window
	phases  []timeline.Event
	rto     *checkers.RTOData
	rpo     *checkers.RPOData
	regions []string // in colour order
}

func newChartInput(r *Run) chartInput {
	in := chartInput{windows: timeline.Windows(r.Timeline)}
	for _, e := range r.Timeline {
		in.end = max(in.end, e.At)
		if e.Kind == timeline.Phase {
			in.phases = append(in.phases, e)
		}
	}
	for _, op := range r.History {
		in.end = max(in.end, op.Complete)
	}
	if in.end <= 0 {
		in.end = time.Second
	}
	in.bucket = bucketWidth(in.end)
	for _, res := range r.Results {
		switch res.Checker {
		case checkers.NameRTO:
			if d, ok := checkers.DataOf[checkers.RTOData](res); ok {
				in.rto = &d
			}
		case checkers.NameRPO:
			if d, ok := checkers.DataOf[checkers.RPOData](res); ok {
				in.rpo = &d
			}
		}
	}
	seen := map[string]bool{}
	add := func(region string) {
		if region != "" && !seen[region] {
			seen[region] = true
			in.regions = append(in.regions, region)
		}
	}
	if r.Scenario != nil {
		for _, reg := range r.Scenario.Topology.Regions {
			add(reg)
		}
	}
	for _, op := range r.History {
		add(op.Region)
	}
	return in
}

// bucketWidth is a round width giving at most bucketLimit buckets: 1s for a minute-long
// drill, wider for long ones, so a chart's size does not grow with the run.
func bucketWidth(end time.Duration) time.Duration {
	for _, w := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
		5 * time.Minute, 15 * time.Minute, time.Hour} {
		if end/w < bucketLimit && w >= 250*time.Millisecond {
			return w
		}
	}
	return end/bucketLimit + 1
}

func (in chartInput) buckets() int { return int(in.end/in.bucket) + 1 }

func (in chartInput) x(t time.Duration) float64 {
	return plotLeft + plotWidth*float64(t)/float64(in.end)
}

func (in chartInput) regionColour(region string) string {
	for i, r := range in.regions {
		if r == region {
			return regionPalette[i%len(regionPalette)]
		}
	}
	return "#999"
}

// svg accumulates one chart.
type svg struct {
	b      strings.Builder
	height float64
}

func newSVG(label string, height float64) *svg {
	s := &svg{height: height}
	fmt.Fprintf(&s.b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %.0f" role="img" aria-label="%s">`,
		chartWidth, height, html.EscapeString(label))
	return s
}

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, anchor, class, text string) {
	s.f(`<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`, x, y, anchor, class, html.EscapeString(text))
}

func (s *svg) done() string { s.b.WriteString("</svg>"); return s.b.String() }

// timeFrame draws the plot border, the time axis with round ticks, the fault windows shaded
// and labelled, phase marks, and the RTO/RPO marks, so every chart shares one time axis.
func (in chartInput) timeFrame(s *svg, plotH float64) { in.frame(s, plotH, true) }

// frame is timeFrame with the RTO/RPO labels optional: on the ownership chart they would
// cover agent rows, so there only the lines are drawn.
func (in chartInput) frame(s *svg, plotH float64, labels bool) {
	bottom := plotTop + plotH
	for _, w := range in.windows {
		end := w.End
		if end == 0 {
			end = in.end
		}
		x0, x1 := in.x(w.Start), in.x(end)
		s.f(`<rect class="fault" x="%.1f" y="%d" width="%.1f" height="%.1f"><title>%s</title></rect>`,
			x0, plotTop, math.Max(x1-x0, 1), plotH, html.EscapeString(windowTitle(w)))
		label := w.Name
		if w.Target != "" {
			label += " → " + w.Target
		}
		s.text(x0+3, plotTop-6, "start", "fault-label", label)
	}
	step := tickStep(in.end)
	for t := time.Duration(0); t <= in.end; t += step {
		x := in.x(t)
		s.f(`<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%.1f"/>`, x, plotTop, x, bottom)
		s.text(x, bottom+16, "middle", "tick", fmtTick(t))
	}
	s.f(`<rect class="frame" x="%d" y="%d" width="%d" height="%.1f"/>`, plotLeft, plotTop, plotWidth, plotH)
	in.marks(s, plotH, labels)
}

// marks draws RTO (fault start → recovery, per fault window) and RPO (lost writes, or a
// zero-loss mark at the fault) on the time axis.
func (in chartInput) marks(s *svg, plotH float64, labels bool) {
	bottom := plotTop + plotH
	if in.rto != nil {
		for _, w := range in.rto.Windows {
			worst, recovered := 0.0, true
			for _, a := range w.Agents {
				worst = math.Max(worst, a.Seconds)
				recovered = recovered && a.Recovered
			}
			if len(w.Agents) == 0 {
				continue
			}
			x0 := in.x(w.Start)
			x1 := in.x(w.Start + time.Duration(worst*float64(time.Second)))
			label := "RTO max " + fmtSecs(worst)
			if !recovered {
				label = "RTO > " + fmtSecs(worst) + " (not recovered)"
			}
			s.f(`<line class="rto" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x0, bottom-6, x1, bottom-6)
			s.f(`<line class="rto" x1="%.1f" y1="%d" x2="%.1f" y2="%.1f"><title>%s</title></line>`, x1, plotTop, x1, bottom,
				html.EscapeString(label))
			if labels {
				// Near the top, under the fault and RPO labels, where bars and lines rarely reach.
				s.text(x1+3, plotTop+26, "start", "rto-label", label)
			}
		}
	}
	if in.rpo == nil {
		return
	}
	if in.rpo.Lost == 0 {
		if len(in.windows) > 0 && labels {
			s.text(in.x(in.windows[0].Start)+3, plotTop+12, "start", "rpo-label", "RPO 0: no acknowledged write lost")
		}
		return
	}
	first, last := time.Duration(math.MaxInt64), time.Duration(0)
	for i, lw := range in.rpo.LostWrites {
		first, last = min(first, lw.Complete), max(last, lw.Complete)
		if i < markLimit {
			s.f(`<line class="rpo" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"><title>lost: %s/%s=%s acked at %s</title></line>`,
				in.x(lw.Complete), bottom-14, in.x(lw.Complete), bottom, html.EscapeString(lw.Agent),
				html.EscapeString(lw.Key), html.EscapeString(lw.Value), fmtTick(lw.Complete))
		}
	}
	if last >= first && labels {
		s.text(in.x(first), plotTop+12, "start", "rpo-label",
			fmt.Sprintf("RPO: %d acknowledged writes lost, loss window %s", in.rpo.Lost, fmtSecs(in.rpo.LossWindowSeconds)))
	}
}

func windowTitle(w timeline.Window) string {
	if w.End == 0 {
		return fmt.Sprintf("%s (%s on %s) from %s, never healed", w.Name, w.Fault, w.Target, fmtTick(w.Start))
	}
	return fmt.Sprintf("%s (%s on %s) %s – %s", w.Name, w.Fault, w.Target, fmtTick(w.Start), fmtTick(w.End))
}

// tickStep is a round step giving 5 to 12 ticks.
func tickStep(end time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
		15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		30 * time.Minute, time.Hour} {
		if end/s <= 12 {
			return s
		}
	}
	return end / 10
}

func fmtTick(t time.Duration) string {
	if t >= time.Minute && t%time.Minute == 0 {
		return fmt.Sprintf("%dm", t/time.Minute)
	}
	if t%time.Second == 0 {
		return fmt.Sprintf("%ds", t/time.Second)
	}
	return fmt.Sprintf("%.2fs", t.Seconds())
}

func fmtSecs(s float64) string {
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return "∞"
	}
	switch {
	case s == 0:
		return "0s"
	case s < 0.001:
		return fmt.Sprintf("%.0fµs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.0fms", s*1000)
	}
	return fmt.Sprintf("%.2fs", s)
}

// fmtDecade labels 10^d seconds: 100µs, 1ms, 10ms, 100ms, 1s, 10s, 100s.
func fmtDecade(d float64) string {
	switch {
	case d < -3:
		return fmt.Sprintf("%gµs", math.Round(math.Pow(10, d+6)))
	case d < 0:
		return fmt.Sprintf("%gms", math.Round(math.Pow(10, d+3)))
	default:
		return fmt.Sprintf("%gs", math.Pow(10, d))
	}
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// throughputChart: ops per second by completion time, stacked ok / fail / unknown.
func throughputChart(in chartInput, h history.History) string {
	n := in.buckets()
	counts := make([][3]int, n)
	for _, op := range h {
		i := int(op.Complete / in.bucket)
		if i < 0 || i >= n {
			continue
		}
		switch op.Outcome {
		case history.OK:
			counts[i][0]++
		case history.Fail:
			counts[i][1]++
		default:
			counts[i][2]++
		}
	}
	perSec := 1 / in.bucket.Seconds()
	top := 0.0
	for _, c := range counts {
		top = math.Max(top, float64(c[0]+c[1]+c[2])*perSec)
	}
	top = niceMax(top)
	const plotH = 180
	s := newSVG("throughput: ok, fail and unknown ops per second over time", plotTop+plotH+plotBottom)
	yAxis(s, plotH, top, func(v float64) string { return fmt.Sprintf("%g/s", v) })
	bw := plotWidth * float64(in.bucket) / float64(in.end)
	colours := [3]string{colourOK, colourFail, colourUnknown}
	for i, c := range counts {
		y := float64(plotTop + plotH)
		for k := 0; k < 3; k++ {
			if c[k] == 0 {
				continue
			}
			hgt := plotH * float64(c[k]) * perSec / top
			y -= hgt
			s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`,
				in.x(time.Duration(i)*in.bucket), y, math.Max(bw-0.5, 0.5), hgt, colours[k])
		}
	}
	in.timeFrame(s, plotH)
	return s.done()
}

// yAxis draws horizontal grid lines and labels for a linear axis from 0 to top.
func yAxis(s *svg, plotH, top float64, label func(float64) string) {
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		y := plotTop + plotH - plotH*float64(i)/4
		s.f(`<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, plotLeft, y, plotLeft+plotWidth, y)
		s.text(plotLeft-6, y+4, "end", "tick", label(v))
	}
}

// latencyChart: p50 and p99 latency of ok ops per time bucket, on a log scale because a
// failover turns milliseconds into seconds.
func latencyChart(in chartInput, h history.History) string {
	n := in.buckets()
	lat := make([][]time.Duration, n)
	for _, op := range h {
		i := int(op.Complete / in.bucket)
		if op.Outcome != history.OK || i < 0 || i >= n || op.Complete < op.Invoke {
			continue
		}
		lat[i] = append(lat[i], op.Complete-op.Invoke)
	}
	p50 := make([]float64, n)
	p99 := make([]float64, n)
	lo, hi := math.Inf(1), 0.0
	for i, l := range lat {
		if len(l) == 0 {
			p50[i], p99[i] = -1, -1
			continue
		}
		sort.Slice(l, func(a, b int) bool { return l[a] < l[b] })
		p50[i] = l[rank(len(l), 0.50)].Seconds()
		p99[i] = l[rank(len(l), 0.99)].Seconds()
		lo, hi = math.Min(lo, p50[i]), math.Max(hi, p99[i])
	}
	const plotH = 180
	s := newSVG("latency of ok ops: p50 and p99 per time bucket, log scale", plotTop+plotH+plotBottom)
	// Decades from just below the fastest median to just above the slowest p99.
	if math.IsInf(lo, 1) {
		lo, hi = 1e-3, 1
	}
	dLo := math.Floor(math.Log10(math.Max(lo, 1e-6)))
	dHi := math.Ceil(math.Log10(math.Max(hi, 1e-6)))
	if dHi <= dLo {
		dHi = dLo + 1
	}
	y := func(v float64) float64 {
		f := (math.Log10(math.Max(v, 1e-6)) - dLo) / (dHi - dLo)
		return plotTop + plotH - plotH*f
	}
	for d := dLo; d <= dHi; d++ {
		v := math.Pow(10, d)
		s.f(`<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, plotLeft, y(v), plotLeft+plotWidth, y(v))
		s.text(plotLeft-6, y(v)+4, "end", "tick", fmtDecade(d))
	}
	in.timeFrame(s, plotH)
	for _, q := range []struct {
		vals  []float64
		class string
	}{{p99, "p99"}, {p50, "p50"}} {
		// One polyline per run of non-empty buckets: a gap in the data is a gap in the line.
		var pts []string
		flush := func() {
			if len(pts) == 1 {
				pts = append(pts, pts[0])
			}
			if len(pts) > 0 {
				s.f(`<polyline class="%s" points="%s"/>`, q.class, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, v := range q.vals {
			if v < 0 {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", in.x(time.Duration(i)*in.bucket+in.bucket/2), y(v)))
		}
		flush()
	}
	return s.done()
}

func rank(n int, p float64) int {
	i := int(math.Ceil(p*float64(n))) - 1
	return min(max(i, 0), n-1)
}

// ownerSpan is a stretch of time in which an agent was seen owned by one region at one epoch.
type ownerSpan struct {
	region     string
	epoch      int64
	start, end time.Duration
}

// ownership derives each agent's owner over time from "owner" observations and from the
// region/epoch of ok ops. A newer epoch supersedes; anything served by an older epoch after a
// newer one was seen is ignored here (split-brain is the checkers' business).
func ownership(r *Run) map[string][]ownerSpan {
	type sighting struct {
		at     time.Duration
		region string
		epoch  int64
	}
	seen := map[string][]sighting{}
	for _, e := range r.Timeline {
		if o, ok := e.Owner(); ok {
			seen[o.Agent] = append(seen[o.Agent], sighting{e.At, o.Region, o.Epoch})
		}
	}
	for _, op := range r.History {
		if op.Outcome == history.OK && op.Region != "" && op.Agent != "" {
			seen[op.Agent] = append(seen[op.Agent], sighting{op.Complete, op.Region, op.Epoch})
		}
	}
	out := make(map[string][]ownerSpan, len(seen))
	for agent, ss := range seen {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].at < ss[j].at })
		var spans []ownerSpan
		for _, s := range ss {
			if n := len(spans); n > 0 {
				cur := &spans[n-1]
				if s.epoch < cur.epoch || (s.epoch == cur.epoch && s.region == cur.region) {
					if s.epoch == cur.epoch {
						cur.end = s.at
					}
					continue
				}
			}
			spans = append(spans, ownerSpan{region: s.region, epoch: s.epoch, start: s.at, end: s.at})
		}
		out[agent] = spans
	}
	return out
}

// ownerChart: one row per agent, coloured by the owning region; the gap between two owners
// is time when no owner was seen serving. Agents a fault affected come first.
func ownerChart(in chartInput, r *Run) (string, string) {
	spans := ownership(r)
	affected := map[string]float64{} // agent → its recovery time (s), for a tick on its row
	if in.rto != nil {
		for _, w := range in.rto.Windows {
			for _, a := range w.Agents {
				affected[a.Agent] = float64(w.Start)/float64(time.Second) + a.Seconds
			}
		}
	}
	agents := make([]string, 0, len(spans))
	for a := range spans {
		agents = append(agents, a)
	}
	sort.Slice(agents, func(i, j int) bool {
		_, ai := affected[agents[i]]
		_, aj := affected[agents[j]]
		if ai != aj {
			return ai
		}
		return agents[i] < agents[j]
	})
	note := ""
	if len(agents) > agentRowLimit {
		note = fmt.Sprintf("showing %d of %d agents (those a fault affected first)", agentRowLimit, len(agents))
		agents = agents[:agentRowLimit]
		sort.Strings(agents)
	} else {
		sort.Strings(agents)
	}
	row := 14.0
	if len(agents) > 24 {
		row = 9
	}
	plotH := math.Max(row*float64(len(agents)), row)
	s := newSVG("owner region of each agent over time", plotTop+plotH+plotBottom)
	in.frame(s, plotH, false)
	for i, agent := range agents {
		y := plotTop + row*float64(i)
		if row >= 12 {
			s.text(plotLeft-6, y+row-3, "end", "tick", agent)
		}
		for _, sp := range spans[agent] {
			x0, x1 := in.x(sp.start), in.x(sp.end)
			s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: region %s, epoch %d, %s – %s</title></rect>`,
				x0, y+1, math.Max(x1-x0, 1.5), row-2, in.regionColour(sp.region), html.EscapeString(agent),
				html.EscapeString(sp.region), sp.epoch, fmtTick(sp.start), fmtTick(sp.end))
			if x1-x0 > 40 && row >= 12 {
				s.text(x0+3, y+row-3.5, "start", "span-label", fmt.Sprintf("%s·e%d", sp.region, sp.epoch))
			}
		}
		if t, ok := affected[agent]; ok {
			x := in.x(time.Duration(t * float64(time.Second)))
			s.f(`<path class="recovered" d="M%.1f %.1f l-3 -4 h6 z"/>`, x, y+row/2+1)
		}
	}
	return s.done(), note
}
