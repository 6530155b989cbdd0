package checkers

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
)

// Observations are raw facts the drill collected from the stack after the final reads and
// final writes, before the cluster went down: etcd's agent keys and every region's
// checkpoint objects with the sha256 of their bytes. The drill verifies nothing itself; the
// integrity and convergence checkers judge these facts, so a saved run can be re-judged.
type Observations struct {
	// At is when collection started, on the run's clock.
	At time.Duration `json:"at_ns"`
	// Regions are the topology's regions, in order.
	Regions []string `json:"regions"`
	// Etcd holds every key under the agents prefix. Log entries are listed with their
	// values (api.LogEntry); observations collected before that list them by key only.
	Etcd []EtcdKey `json:"etcd"`
	// Objects lists each region's checkpoint bucket.
	Objects map[string][]Object `json:"objects"`
	// Errors are what could not be read (a region's object store down, an etcd timeout):
	// the facts are then incomplete and the verdicts that needed them are unknown.
	Errors []ObservationError `json:"errors,omitempty"`
}

// EtcdKey is one etcd key as read.
type EtcdKey struct {
	Key         string `json:"key"`
	Value       string `json:"value,omitempty"`
	ModRevision int64  `json:"mod_revision"`
}

// Object is one object in one region's bucket.
type Object struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // of the bytes read back, hex
	// Modified is the object store's last-modified time (wall clock of the machine that
	// ran MinIO); only differences between regions of one run are used.
	Modified time.Time `json:"modified"`
	// Body is the object's bytes, when small enough to keep ("" in observations collected
	// before contents were kept, and for big objects).
	Body string `json:"body,omitempty"`
}

// ObservationError says which source could not be read.
type ObservationError struct {
	Source string `json:"source"` // "etcd" or "minio <region>"
	Error  string `json:"error"`
}

// chainLink is one object of a checkpoint chain as the metadata names it: a full snapshot
// then deltas, each delta based on the previous link's seq (schema-2 metadata).
type chainLink struct {
	Object  string   `json:"object"`
	Kind    string   `json:"kind"`
	Seq     int64    `json:"seq"`
	BaseSeq int64    `json:"base_seq"`
	SHA256  string   `json:"sha256"`
	Size    int64    `json:"size"`
	Regions []string `json:"regions"`
}

// checkpointMeta is the etcd checkpoint value: the newest object at the top level (all that
// schema-1 metadata has) and, in schema 2, the chains, newest first.
type checkpointMeta struct {
	api.CheckpointMeta
	Chains [][]chainLink `json:"chains,omitempty"`
}

// agentFacts are one agent's etcd keys, parsed.
type agentFacts struct {
	meta     *checkpointMeta
	metaErr  string
	epoch    int64
	logSeqs  []int64
	hasEpoch bool
	// epochRecords: epoch -> region, from agents/{agent}/epochs/{epoch} (api.EpochRecord).
	epochRecords map[int64]string
	// log holds the log entries whose value was observed, by seq; logUnread counts log keys
	// listed without a value (older observations) and logBad those that did not decode.
	log       map[int64]api.LogEntry
	logUnread int
	logBad    []string
}

// byAgent groups the etcd keys by agent.
func (o *Observations) byAgent() map[string]*agentFacts {
	out := map[string]*agentFacts{}
	for _, kv := range o.Etcd {
		rest, ok := strings.CutPrefix(kv.Key, api.AgentsPrefix())
		if !ok {
			continue
		}
		agent, sub, ok := strings.Cut(rest, "/")
		if !ok || agent == "" {
			continue
		}
		f := out[agent]
		if f == nil {
			f = &agentFacts{}
			out[agent] = f
		}
		switch {
		case sub == "checkpoint":
			var m checkpointMeta
			if err := jsonUnmarshal(kv.Value, &m); err != nil {
				f.metaErr = err.Error()
			} else {
				f.meta = &m
			}
		case sub == "epoch":
			if e, err := strconv.ParseInt(strings.TrimSpace(kv.Value), 10, 64); err == nil {
				f.epoch, f.hasEpoch = e, true
			}
		case strings.HasPrefix(sub, "epochs/"):
			var rec api.EpochRecord
			if err := jsonUnmarshal(kv.Value, &rec); err == nil && rec.Epoch > 0 && rec.Region != "" {
				if f.epochRecords == nil {
					f.epochRecords = map[int64]string{}
				}
				f.epochRecords[rec.Epoch] = rec.Region
			}
		case strings.HasPrefix(sub, "log/"):
			s, err := strconv.ParseInt(strings.TrimPrefix(sub, "log/"), 10, 64)
			if err != nil {
				continue
			}
			f.logSeqs = append(f.logSeqs, s)
			var e api.LogEntry
			switch {
			case kv.Value == "":
				f.logUnread++
			case jsonUnmarshal(kv.Value, &e) != nil || e.Seq != s:
				f.logBad = append(f.logBad, kv.Key)
			default:
				if f.log == nil {
					f.log = map[int64]api.LogEntry{}
				}
				f.log[s] = e
			}
		}
	}
	return out
}

// object finds key in region's listing.
func (o *Observations) object(region, key string) (Object, bool) {
	for _, obj := range o.Objects[region] {
		if obj.Key == key {
			return obj, true
		}
	}
	return Object{}, false
}

// failed reports whether source could not be read.
func (o *Observations) failed(source string) bool {
	for _, e := range o.Errors {
		if e.Source == source {
			return true
		}
	}
	return false
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
