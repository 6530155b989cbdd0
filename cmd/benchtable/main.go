// Command benchtable turns `go test -bench` output (stdin) into the table make bench keeps:
// the median of every metric over the runs of each benchmark, as JSON and as Markdown,
// with the machine it ran on.
//
//	go test -run '^$' -bench . -count 3 ./... | benchtable -out runs/bench
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Row is one benchmark: the median of each metric over its runs.
type Row struct {
	Name    string             `json:"name"`
	Runs    int                `json:"runs"`
	Medians map[string]float64 `json:"medians"`
}

// Table is what make bench writes.
type Table struct {
	When    time.Time `json:"when"`
	Machine string    `json:"machine"`
	Rows    []Row     `json:"rows"`
}

func main() {
	out := flag.String("out", "runs/bench", "directory for bench.json and bench.md")
	flag.Parse()
	t, err := parse(os.Stdin, os.Stdout)
	if err == nil {
		err = write(*out, t)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// parse reads benchmark lines, echoing everything to echo so the run stays visible.
func parse(in io.Reader, echo io.Writer) (Table, error) {
	t := Table{When: time.Now().UTC(), Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())}
	samples := map[string]map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(echo, line)
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			t.Machine = cpu + fmt.Sprintf(", %d CPUs", runtime.NumCPU())
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 { // the GOMAXPROCS suffix
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if samples[name] == nil {
			samples[name] = map[string][]float64{}
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 { // after the iteration count: value unit pairs
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			samples[name][f[i+1]] = append(samples[name][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return t, err
	}
	for _, name := range order {
		r := Row{Name: name, Medians: map[string]float64{}}
		for unit, vs := range samples[name] {
			sort.Float64s(vs)
			r.Medians[unit] = vs[len(vs)/2]
			r.Runs = max(r.Runs, len(vs))
		}
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

func write(dir string, t Table) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# make bench, %s\n\n%s. Medians over each benchmark's runs.\n\n", t.When.Format("2006-01-02 15:04 UTC"), t.Machine)
	b.WriteString("| benchmark | runs | medians |\n|---|---|---|\n")
	for _, r := range t.Rows {
		units := make([]string, 0, len(r.Medians))
		for u := range r.Medians {
			units = append(units, u)
		}
		sort.Strings(units)
		var parts []string
		for _, u := range units {
			parts = append(parts, fmt.Sprintf("%s %s", human(r.Medians[u], u), u))
		}
		fmt.Fprintf(&b, "| %s | %d | %s |\n", strings.TrimPrefix(r.Name, "Benchmark"), r.Runs, strings.Join(parts, ", "))
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("bench table: %s, %s\n", filepath.Join(dir, "bench.md"), filepath.Join(dir, "bench.json"))
	return nil
}

// human writes ns/op as seconds or milliseconds, the rest with a sensible precision.
func human(v float64, unit string) string {
	if unit == "ns/op" {
		return strconv.FormatFloat(v, 'f', 0, 64) + fmt.Sprintf(" (%s)", time.Duration(v).Round(time.Millisecond/10))
	}
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
