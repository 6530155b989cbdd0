#!/usr/bin/env bash
# make bench: every benchmark 3 times (the drill benchmarks once, over several drills), the medians kept by cmd/benchtable as
# $BENCH_OUT/bench.md and bench.json. See the Makefile's bench target for what each measures.
set -euo pipefail
GO=${GO:-go}
out=${BENCH_OUT:-runs/bench}
{
	"$GO" test -run '^$' -bench . -benchmem -count 3 ./reports/
	"$GO" test -run '^$' -bench '^(BenchmarkCheck|BenchmarkDriverVsVegeta)$' -benchtime 1x -count 3 -timeout 30m ./workload/
	"$GO" test -run '^$' -bench '^BenchmarkRPOSingleKey' -benchtime 1x -count 3 -timeout 30m ./checkers/
	# Whole drills (needs make build): each reports its own medians over the drills it runs.
	"$GO" test -run '^$' -bench '^(BenchmarkDrillRegionOutage|BenchmarkStackThroughput)$' -benchtime 1x -count 1 -timeout 30m ./drill/
} 2>&1 | "$GO" run ./cmd/benchtable -out "$out"
