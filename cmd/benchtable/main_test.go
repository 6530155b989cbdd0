package main

import (
	"io"
	"strings"
	"testing"
)

// Benchmark lines become one row per benchmark with the median of each metric; other
// lines pass through.
func TestParse(t *testing.T) {
	in := `goos: linux
cpu: AMD EPYC
BenchmarkCheck/100k_ops_1k_keys-2   	1	 900000000 ns/op	   512.0 peak-MiB
BenchmarkCheck/100k_ops_1k_keys-2   	1	 700000000 ns/op	   500.0 peak-MiB
BenchmarkCheck/100k_ops_1k_keys-2   	1	 800000000 ns/op	   520.0 peak-MiB
BenchmarkRPOSingleKey-2   	3	 324922198 ns/op	       355.0 lost
PASS
`
	tb, err := parse(strings.NewReader(in), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Rows) != 2 || tb.Rows[0].Name != "BenchmarkCheck/100k_ops_1k_keys" || tb.Rows[0].Runs != 3 ||
		tb.Rows[0].Medians["ns/op"] != 800000000 || tb.Rows[0].Medians["peak-MiB"] != 512 || tb.Rows[1].Medians["lost"] != 355 {
		t.Errorf("rows %+v", tb.Rows)
	}
	if !strings.HasPrefix(tb.Machine, "AMD EPYC") {
		t.Errorf("machine %q", tb.Machine)
	}
}
