package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/timeline"
)

// Summary renders summary.md: what ran, the overall verdict, the SLA table, the fault
// timeline, operation counts and links to the other artifacts in the run directory.
func Summary(r *Run) string {
	var b strings.Builder
	overall := r.Overall()
	fmt.Fprintf(&b, "# geodrill: %s — %s\n\n", r.name(), upper(overall))
	if r.Scenario != nil && r.Scenario.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", oneLine(r.Scenario.Description))
	}
	writeFacts(&b, r, overall)
	if r.HarnessError != "" {
		fmt.Fprintf(&b, "> **Harness error:** %s\n>\n> The harness or cluster failed; the verdicts below are incomplete "+
			"and this run says nothing either way about the system under test.\n\n", mdCell(r.HarnessError))
	}
	writeSLA(&b, r.Results)
	writeTimeline(&b, r.Timeline)
	writePhases(&b, rtoData(r))
	if lines := triggerLines(r.Timeline); len(lines) > 0 {
		b.WriteString("## Triggered faults\n\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "- %s\n", oneLine(l))
		}
		b.WriteString("\n")
	}
	writeOps(&b, CountOps(r.History))
	if len(r.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", oneLine(n))
		}
		b.WriteString("\n")
	}
	writeArtifacts(&b, r.Dir)
	return b.String()
}

func writeFacts(b *strings.Builder, r *Run, overall checkers.Status) {
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(b, "| Scenario | %s ([%s](%s)) |\n", mdCell(r.name()), rundir.ScenarioFile, rundir.ScenarioFile)
	fmt.Fprintf(b, "| Seed | %d |\n", r.Seed)
	fmt.Fprintf(b, "| Provider | %s |\n", mdCell(r.provider()))
	if !r.Started.IsZero() {
		fmt.Fprintf(b, "| Started | %s |\n", r.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	fmt.Fprintf(b, "| Duration | %s |\n", r.Duration.Round(time.Millisecond))
	fmt.Fprintf(b, "| Verdict | **%s** — %s |\n\n", upper(overall), verdictCounts(rows(r.Results)))
}

// verdictCounts reads like "4 of 5 targets passed, 1 failed".
func verdictCounts(vs []checkers.Verdict) string {
	if len(vs) == 0 {
		return "no verdicts"
	}
	n := map[checkers.Status]int{}
	for _, v := range vs {
		n[v.Status]++
	}
	s := fmt.Sprintf("%d of %d targets passed", n[checkers.Pass], len(vs)-n[checkers.NotApplicable])
	if n[checkers.NotApplicable] > 0 {
		s += fmt.Sprintf(" (%d not applicable to this system)", n[checkers.NotApplicable])
	}
	if n[checkers.Fail] > 0 {
		s += fmt.Sprintf(", %d failed", n[checkers.Fail])
	}
	if n[checkers.Unknown] > 0 {
		s += fmt.Sprintf(", %d unknown", n[checkers.Unknown])
	}
	return s
}

func writeSLA(b *strings.Builder, results []checkers.Result) {
	b.WriteString("## SLA\n\n")
	vs := rows(results)
	if len(vs) == 0 {
		b.WriteString("No checker produced a verdict, so the run cannot pass.\n\n")
		return
	}
	b.WriteString("| Checker | Target | Measured | Verdict |\n|---|---|---|---|\n")
	for _, v := range vs {
		verdict := upper(v.Status)
		if v.Status != checkers.Pass && v.Status != checkers.NotApplicable {
			verdict = "**" + verdict + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", mdCell(v.Checker), mdCell(v.Target), mdCell(v.Measured), verdict)
	}
	b.WriteString("\n")
	var why []string
	for _, v := range vs {
		if v.Detail != "" {
			why = append(why, fmt.Sprintf("- **%s** `%s` (%s): %s", v.Checker, v.Target, v.Status, oneLine(v.Detail)))
		}
	}
	if len(why) > 0 {
		b.WriteString("Details:\n\n" + strings.Join(why, "\n") + "\n\n")
	}
}

func writeTimeline(b *strings.Builder, events []timeline.Event) {
	b.WriteString("## Fault timeline\n\n")
	if len(events) == 0 {
		b.WriteString("No events were recorded.\n\n")
		return
	}
	b.WriteString("| Time | Event | Fault | Target |\n|---|---|---|---|\n")
	for _, e := range events {
		if e.Kind == timeline.Stack {
			continue // summarised under "Recovery phases"
		}
		event, fault := string(e.Kind), e.Name
		if e.Fault == "" { // a phase or an observation: its name says what it is
			event, fault = strings.TrimSpace(string(e.Kind)+" "+e.Name), ""
		}
		if d := details(e.Detail); d != "" {
			event += " (" + d + ")"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", offset(e.At), mdCell(event), mdCell(fault), mdCell(e.Target))
	}
	b.WriteString("\n")
}

// details renders an event's detail map in key order, shortened to fit a table cell.
func details(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	s := strings.Join(parts, ", ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s
}

func offset(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func writeOps(b *strings.Builder, c OpCounts) {
	b.WriteString("## Operations\n\n")
	b.WriteString("| Ops | ok | fail | unknown | total |\n|---|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		c    Counts
	}{{"put", c.Put}, {"get", c.Get}, {"cas", c.CAS}, {"final reads", c.Final}, {"**all**", c.All}} {
		fmt.Fprintf(b, "| %s | %d | %d | %d | %d |\n", row.name, row.c.OK, row.c.Fail, row.c.Unknown, row.c.Total())
	}
	b.WriteString("\n")
}

// writeArtifacts links the run's files, including HTML reports (the linearizability
// visualization, report.html) and process logs when they exist.
func writeArtifacts(b *strings.Builder, dir string) {
	b.WriteString("## Artifacts\n\n")
	var html []string
	for _, pattern := range []string{"*.html", "*/*.html"} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range m {
			if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, rundir.LogsDir+string(filepath.Separator)) {
				html = append(html, filepath.ToSlash(rel))
			}
		}
	}
	sort.Strings(html)
	for _, h := range html {
		label := h
		if strings.Contains(strings.ToLower(h), "linearizab") || strings.Contains(strings.ToLower(h), "porcupine") {
			label = "linearizability visualization (" + h + ")"
		}
		fmt.Fprintf(b, "- [%s](%s)\n", label, h)
	}
	if logs, err := os.ReadDir(filepath.Join(dir, rundir.LogsDir)); err == nil {
		fmt.Fprintf(b, "- [%s/](%s/): process logs\n", rundir.LogsDir, rundir.LogsDir)
		for _, l := range logs {
			fmt.Fprintf(b, "  - [%s](%s/%s)\n", l.Name(), rundir.LogsDir, l.Name())
		}
	}
	for _, f := range []struct{ name, what string }{
		{rundir.ResultsFile, "verdicts and measured values"},
		{rundir.JUnitFile, "for CI"},
		{rundir.TimelineFile, "what the harness did, when"},
		{rundir.HistoryFile, "every client operation"},
		{rundir.ScenarioFile, "the resolved scenario; re-run it with `harness run`"},
	} {
		fmt.Fprintf(b, "- [%s](%s): %s\n", f.name, f.name, f.what)
	}
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}
