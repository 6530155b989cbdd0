// Package rundir is the layout of a run directory, one directory per drill
// (runs/<scenario>-<time>-seed<N>/): every file and folder name in one place. reports
// writes and reads the record files, the cluster providers write the logs, the service
// data and the endpoints.
package rundir

// Files and folders in a run directory.
const (
	ScenarioFile     = "scenario.yaml"     // the resolved scenario, seed included
	TimelineFile     = "timeline.jsonl"    // one timeline.Event per line
	HistoryFile      = "history.jsonl"     // one history.Op per line
	ObservationsFile = "observations.json" // post-run facts (etcd keys, checkpoint objects and their sha256); absent in older runs
	ResultsFile      = "results.json"      // status, seed, verdicts, measured values, harness error
	SummaryFile      = "summary.md"        // what a reviewer reads first
	JUnitFile        = "junit.xml"         // what CI gates on
	HTMLFile         = "report.html"       // the report people open
	ClusterFile      = "cluster.json"      // the cluster's endpoints, for people and tools attaching
	StackFile        = "stack.yaml"        // the reference stack's configuration, read by every host and router (--config)
	LogsDir          = "logs"              // process logs, written by the cluster
	TLSDir           = "tls"               // the run's CA and certificates, when the stack runs with TLS
	// DataDir holds the services' data (etcd, MinIO), one folder per region and service;
	// deleted after a run unless kept.
	DataDir = "data"
)
