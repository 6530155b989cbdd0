package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/rundir"
)

// htmlPage feeds the self-contained report (rundir.HTMLFile): inline CSS and SVG, no script,
// nothing fetched, so it opens from disk, from a CI artifact store or as an e-mail
// attachment alike.
type htmlPage struct {
	Name, Description, Provider, Started, Duration, Verdict, VerdictClass, Counts string
	Seed                                                                          int64
	HarnessError                                                                  string
	SLA                                                                           []htmlVerdict
	Throughput, Latency, Owners                                                   template.HTML
	OwnersNote, Bucket                                                            string
	Regions                                                                       []htmlRegion
	RTO                                                                           string
	Phases                                                                        []phaseRow
	Leaders                                                                       []string
	Ops                                                                           []htmlOps
	Windows                                                                       []string
	Triggers                                                                      []string
	Notes                                                                         []string
	Linearizability                                                               []string
	Logs                                                                          []string
	Files                                                                         []htmlLink
}

type htmlVerdict struct{ Checker, Target, Measured, Verdict, Class, Detail string }
type htmlRegion struct{ Name, Colour string }
type htmlOps struct {
	Name                   string
	OK, Fail, Unknown, All int
}
type htmlLink struct{ Name, What string }

// renderHTML draws report.html. Its size and cost are bounded by the chart limits
// (bucketLimit, agentRowLimit, markLimit), not by the number of ops.
func renderHTML(r *Run) ([]byte, error) {
	overall := r.Overall()
	in := newChartInput(r)
	owners, ownersNote := ownerChart(in, r)
	p := htmlPage{
		Name:         r.name(),
		Provider:     r.provider(),
		Seed:         r.Seed,
		Duration:     r.Duration.Round(time.Millisecond).String(),
		Verdict:      upper(overall),
		VerdictClass: cssClass(overall),
		Counts:       verdictCounts(rows(r.Results)),
		HarnessError: r.HarnessError,
		Throughput:   template.HTML(throughputChart(in, r.History)),
		Latency:      template.HTML(latencyChart(in, r.History)),
		Owners:       template.HTML(owners),
		OwnersNote:   ownersNote,
		Bucket:       in.bucket.String(),
		Notes:        r.Notes,
	}
	if r.Scenario != nil {
		p.Description = r.Scenario.Description
	}
	if !r.Started.IsZero() {
		p.Started = r.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for _, v := range rows(r.Results) {
		p.SLA = append(p.SLA, htmlVerdict{v.Checker, v.Target, v.Measured, upper(v.Status), cssClass(v.Status), v.Detail})
	}
	for _, reg := range in.regions {
		p.Regions = append(p.Regions, htmlRegion{reg, in.regionColour(reg)})
	}
	if in.rto != nil && in.rto.Measured > 0 {
		p.RTO = fmt.Sprintf("RTO over %d agent recoveries: p50 %s, p95 %s, max %s; %d not recovered.",
			in.rto.Measured, fmtPtrSecs(in.rto.P50), fmtPtrSecs(in.rto.P95), fmtPtrSecs(in.rto.Max), in.rto.NotRecovered)
	}
	p.Phases, p.Leaders = phaseRows(in.rto), leaderNotes(in.rto)
	for _, w := range in.windows {
		p.Windows = append(p.Windows, windowTitle(w))
	}
	p.Triggers = triggerLines(r.Timeline)
	c := CountOps(r.History)
	for _, row := range []struct {
		name string
		c    Counts
	}{{"put", c.Put}, {"get", c.Get}, {"cas", c.CAS}, {"final reads", c.Final}, {"all", c.All}} {
		p.Ops = append(p.Ops, htmlOps{row.name, row.c.OK, row.c.Fail, row.c.Unknown, row.c.Total()})
	}
	p.Linearizability, p.Logs = artifacts(r.Dir)
	p.Files = []htmlLink{
		{rundir.SummaryFile, "the same verdicts as Markdown"},
		{rundir.ResultsFile, "verdicts and measured values (JSON)"},
		{rundir.JUnitFile, "for CI"},
		{rundir.TimelineFile, "what the harness did, when"},
		{rundir.HistoryFile, "every client operation"},
		{rundir.ScenarioFile, "the resolved scenario, seed included"},
		{rundir.ObservationsFile, "post-run facts: etcd keys, checkpoint objects (absent in older runs)"},
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// artifacts finds the linearizability visualizations and process logs already in dir.
func artifacts(dir string) (lin, logs []string) {
	if dir == "" {
		return nil, nil
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.html"))
	for _, f := range m {
		if base := filepath.Base(f); base != rundir.HTMLFile && strings.Contains(strings.ToLower(base), "linearizab") {
			lin = append(lin, base)
		}
	}
	sort.Strings(lin)
	if entries, err := os.ReadDir(filepath.Join(dir, rundir.LogsDir)); err == nil {
		for _, e := range entries {
			logs = append(logs, rundir.LogsDir+"/"+e.Name())
		}
	}
	return lin, logs
}

func fmtPtrSecs(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return fmtSecs(*p)
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>geodrill: {{.Name}} — {{.Verdict}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0 auto; max-width: 1040px; padding: 16px 24px 48px; color: #1d2330; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #dde2ea; padding-bottom: 4px; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 4px; color: #fff; font-weight: 600; }
.badge.pass, tr.pass td.verdict { background: #2e9d57; }
.badge.fail, tr.fail td.verdict { background: #d23c3c; }
.badge.unknown, tr.unknown td.verdict { background: #e3a21a; }
.badge.na, tr.na td.verdict { background: #8a94a6; }
td.verdict { color: #fff; font-weight: 600; text-align: center; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #dde2ea; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.bar { width: 30%; } td.bar i { display: block; height: 10px; background: #6b3fa0; min-width: 1px; }
.facts td:first-child { color: #5b6475; }
.detail { color: #5b6475; font-size: 12px; }
.error { border-left: 4px solid #d23c3c; background: #fdf0f0; padding: 8px 12px; }
svg.chart { width: 100%; height: auto; display: block; margin: 4px 0 2px; }
svg text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #1d2330; }
svg .tick { fill: #5b6475; }
svg .grid { stroke: #e8ebf0; stroke-width: 1; }
svg .frame { fill: none; stroke: #b8c0cc; }
svg .fault { fill: #d23c3c; fill-opacity: 0.10; stroke: #d23c3c; stroke-opacity: 0.35; stroke-dasharray: 3 3; }
svg .fault-label { fill: #a32828; font-weight: 600; }
svg .rto { stroke: #6b3fa0; stroke-width: 1.5; stroke-dasharray: 5 3; }
svg .rto-label { fill: #6b3fa0; font-weight: 600; }
svg .rpo { stroke: #d23c3c; stroke-width: 1.5; }
svg .rpo-label { fill: #a32828; font-weight: 600; }
svg .p50 { fill: none; stroke: #3b73c8; stroke-width: 1.6; }
svg .p99 { fill: none; stroke: #c8663b; stroke-width: 1.6; }
svg .span-label { fill: #fff; font-size: 9px; }
svg .recovered { fill: #1d2330; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; color: #5b6475; }
.legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: -1px; }
.caption { font-size: 12px; color: #5b6475; margin: 0 0 8px; }
</style>
</head>
<body>
<h1>geodrill: {{.Name}} <span class="badge {{.VerdictClass}}" id="verdict">{{.Verdict}}</span></h1>
{{with .Description}}<p>{{.}}</p>{{end}}
<table class="facts">
<tr><td>Seed</td><td>{{.Seed}}</td></tr>
<tr><td>Provider</td><td>{{.Provider}}</td></tr>
{{with .Started}}<tr><td>Started</td><td>{{.}}</td></tr>{{end}}
<tr><td>Duration</td><td>{{.Duration}}</td></tr>
<tr><td>Verdict</td><td><b>{{.Verdict}}</b> — {{.Counts}}</td></tr>
</table>
{{with .HarnessError}}<p class="error"><b>Harness error:</b> {{.}}<br>The harness or cluster failed; the verdicts are incomplete and this run says nothing either way about the system under test.</p>{{end}}

<h2>SLA</h2>
{{if .SLA}}<table id="sla">
<thead><tr><th>Checker</th><th>Target</th><th>Measured</th><th>Verdict</th></tr></thead>
<tbody>
{{range .SLA}}<tr class="{{.Class}}"><td>{{.Checker}}</td><td>{{.Target}}</td><td>{{.Measured}}{{with .Detail}}<div class="detail">{{.}}</div>{{end}}</td><td class="verdict">{{.Verdict}}</td></tr>
{{end}}</tbody>
</table>{{else}}<p id="sla">No checker produced a verdict, so the run cannot pass.</p>{{end}}

<h2>Throughput</h2>
<p class="legend"><span><i style="background:#2e9d57"></i>ok</span><span><i style="background:#d23c3c"></i>fail</span><span><i style="background:#e3a21a"></i>unknown</span><span><i style="background:#f6d8d8;border:1px dashed #d23c3c"></i>fault window</span><span><i style="border-top:2px dashed #6b3fa0;height:0"></i>RTO</span></p>
<div id="throughput">{{.Throughput}}</div>
<p class="caption">Operations per second by completion time, {{.Bucket}} buckets.</p>

<h2>Latency</h2>
<p class="legend"><span><i style="background:#3b73c8"></i>p50</span><span><i style="background:#c8663b"></i>p99</span></p>
<div id="latency">{{.Latency}}</div>
<p class="caption">Latency of ok operations per {{.Bucket}} bucket, log scale.</p>

<h2>Ownership</h2>
<p class="legend">{{range .Regions}}<span><i style="background:{{.Colour}}"></i>region {{.Name}}</span>{{end}}<span>▼ agent recovered (RTO)</span></p>
<div id="owners">{{.Owners}}</div>
<p class="caption">Each agent's owner region and epoch as seen in owner observations and served ops; a gap is time with no owner seen serving.{{with .OwnersNote}} {{.}}.{{end}}</p>
{{with .RTO}}<p>{{.}}</p>{{end}}
{{if .Phases}}<h2>Recovery phases</h2>
<table id="phases">
<thead><tr><th>Phase</th><th>Moment</th><th>Agents</th><th>p50</th><th>p95</th><th>max</th><th></th></tr></thead>
<tbody>{{range .Phases}}<tr><td>{{.Phase}}</td><td>{{.What}}</td><td class="num">{{.Agents}}</td><td class="num">{{.P50}}</td><td class="num">{{.P95}}</td><td class="num">{{.Max}}</td><td class="bar"><i style="width:{{printf "%.1f" .Width}}%"></i></td></tr>
{{end}}</tbody>
</table>
<p class="caption">Seconds from each region fault's start, over every affected agent; the bar is the p50.</p>
{{range .Leaders}}<p>{{.}}</p>{{end}}{{end}}
{{if .Windows}}<h2>Faults</h2>
<ul>{{range .Windows}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Triggers}}<h2>Triggered faults</h2>
<ul id="triggers">{{range .Triggers}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2>Operations</h2>
<table id="ops">
<thead><tr><th>Ops</th><th>ok</th><th>fail</th><th>unknown</th><th>total</th></tr></thead>
<tbody>{{range .Ops}}<tr><td>{{.Name}}</td><td class="num">{{.OK}}</td><td class="num">{{.Fail}}</td><td class="num">{{.Unknown}}</td><td class="num">{{.All}}</td></tr>
{{end}}</tbody>
</table>
{{if .Notes}}<h2>Notes</h2>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2>Artifacts</h2>
<ul id="artifacts">
{{range .Linearizability}}<li><a href="{{.}}">linearizability visualization ({{.}})</a></li>
{{else}}<li>No linearizability visualization: porcupine's view is written only for failing partitions.</li>
{{end}}{{if .Logs}}<li><a href="logs/">logs/</a>: process logs<ul>{{range .Logs}}<li><a href="{{.}}">{{.}}</a></li>{{end}}</ul></li>{{end}}
{{range .Files}}<li><a href="{{.Name}}">{{.Name}}</a>: {{.What}}</li>
{{end}}</ul>
</body>
</html>
`))

// WriteHTML (re)writes only report.html in r.Dir: for saved runs from before it existed, or
// after a re-check, without touching the recorded history or verdict files.
func WriteHTML(r *Run) error {
	if r.Dir == "" {
		return fmt.Errorf("reports: write %s: run has no directory", rundir.HTMLFile)
	}
	data, err := renderHTML(r)
	if err == nil {
		err = writeFile(filepath.Join(r.Dir, rundir.HTMLFile), data)
	}
	if err != nil {
		return fmt.Errorf("reports: write %s: %w", filepath.Join(r.Dir, rundir.HTMLFile), err)
	}
	return nil
}

// cssClass is a status as a CSS class name ("n/a" is not one).
func cssClass(s checkers.Status) string {
	if s == checkers.NotApplicable {
		return "na"
	}
	return s.String()
}
