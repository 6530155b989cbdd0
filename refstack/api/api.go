// Package api is the contract of the reference stack: agent and key names, the HTTP API the
// router and agent hosts serve, the response body, and the etcd key layout. It has no
// dependencies so the harness, workload and checkers can import it without the stack.
//
// HTTP (router and agent hosts serve the same paths):
//
//	GET  /agents/{agent}/kv/{key}           read       -> 200 Response{Found, Value}
//	PUT  /agents/{agent}/kv/{key}           body=value -> 200 Response
//	POST /agents/{agent}/cas/{key}          body=CASRequest JSON -> 200 Response{Swapped, Found, Value}
//	                                        (swapped: Value is the new value; not swapped:
//	                                        Found and Value are what the compare saw)
//	GET  /healthz                           200 when serving
//	GET  /status                            host: HostStatus; router: RouterStatus
//	GET  /metrics                           Prometheus metrics (hosts include their controller)
//
// Status codes: 200 the op took effect (or was read). 409 not the owner / fenced: the op
// definitely did not take effect. 503 no owner (router, with Retry-After): not forwarded.
// 500/502/504: the outcome is unknown. Generated errors also carry HeaderOutcome.
//
// etcd layout, all under Prefix:
//
//	registry/{agent}            Registration JSON (home region, failover order)
//	hosts/{region}              HostInfo JSON, attached to the host's lease
//	agents/{agent}/owner        Owner JSON, attached to the owning host's lease
//	agents/{agent}/epoch        decimal epoch, the fencing token (never leased, only grows)
//	agents/{agent}/epochs/{e}   EpochRecord JSON: who took epoch e and when (audit trail)
//	agents/{agent}/log/{seq}    LogEntry JSON, seq zero-padded to 20 digits
//	agents/{agent}/checkpoint   CheckpointMeta JSON
//	agents/{agent}/target       region the controller chose to take the agent next (a hint;
//	                            deleted by the takeover transaction)
//	controller/election/        etcd election of the controller leader (one per stack)
//	controller/declare/{region} an operator's (or the harness's) request that the controller
//	                            leader declare region dead: the value is the host lease to
//	                            revoke; the leader deletes the request once honoured
package api

import "fmt"

// Prefix of every etcd key the stack writes.
const Prefix = "/geodrill/"

// EnvMinIOPassword is the environment variable a host reads its MinIO secret key from: a
// secret is never taken on a command line, where ps shows it to every user.
const EnvMinIOPassword = "GEODRILL_MINIO_PASSWORD"

// Response headers.
const (
	HeaderRegion  = "X-Geodrill-Region"
	HeaderEpoch   = "X-Geodrill-Epoch"
	HeaderOutcome = "X-Geodrill-Outcome" // "fail" or "unknown" on generated errors
)

// AgentID names agent i.
func AgentID(i int) string { return fmt.Sprintf("agent-%02d", i) }

// KeyName names key j of an agent.
func KeyName(j int) string { return fmt.Sprintf("k%d", j) }

// Response is the JSON body of every API response.
type Response struct {
	Agent   string `json:"agent"`
	Key     string `json:"key,omitempty"`
	Region  string `json:"region,omitempty"`
	Epoch   int64  `json:"epoch,omitempty"`
	Found   bool   `json:"found,omitempty"`
	Value   string `json:"value,omitempty"`
	Swapped bool   `json:"swapped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// CASRequest is the body of a cas.
type CASRequest struct {
	Expect string `json:"expect"`
	Value  string `json:"value"`
}

// Registration of an agent in the registry.
type Registration struct {
	Agent string   `json:"agent"`
	Home  string   `json:"home"`
	Order []string `json:"order"` // failover preference, home first
}

// HostInfo is a live agent host.
type HostInfo struct {
	Region string `json:"region"`
	URL    string `json:"url"`
	// Lease is the etcd lease the host key and its owner keys are attached to; the
	// controller revokes it to release a dead region's agents before the TTL runs out.
	Lease int64 `json:"lease,omitempty"`
}

// Owner of an agent: the region, its epoch and where to reach it.
type Owner struct {
	Region string `json:"region"`
	Epoch  int64  `json:"epoch"`
	URL    string `json:"url"`
}

// EpochRecord is written in the takeover transaction that creates an epoch.
type EpochRecord struct {
	Epoch  int64  `json:"epoch"`
	Region string `json:"region"`
	UnixNs int64  `json:"unix_ns"`
}

// LogEntry is one committed write in the agent's op log.
type LogEntry struct {
	Seq   int64  `json:"seq"`
	Epoch int64  `json:"epoch"`
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CheckpointMeta describes the newest checkpoint of an agent.
type CheckpointMeta struct {
	Seq     int64    `json:"seq"` // state includes every log entry with seq <= Seq
	Epoch   int64    `json:"epoch"`
	Object  string   `json:"object"` // object key in each region's bucket
	SHA256  string   `json:"sha256"`
	Schema  int      `json:"schema"`
	Size    int64    `json:"size"`
	Regions []string `json:"regions"` // regions whose object store holds the object
}

// HostStatus is an agent host's /status.
type HostStatus struct {
	Region string           `json:"region"`
	Agents map[string]int64 `json:"agents"` // agent -> epoch it serves
	// InFlight counts the client operations the host is handling right now, including ones
	// whose client has given up: the harness waits for every host to reach 0 before its
	// final reads, so that nothing still queued lands after them.
	InFlight int64 `json:"in_flight"`
}

// RouterStatus is the router's /status.
type RouterStatus struct {
	Owners map[string]Owner `json:"owners"`
}

// Key helpers for the etcd layout.
func RegistryKey(agent string) string   { return Prefix + "registry/" + agent }
func RegistryPrefix() string            { return Prefix + "registry/" }
func HostKey(region string) string      { return Prefix + "hosts/" + region }
func AgentsPrefix() string              { return Prefix + "agents/" }
func OwnerKey(agent string) string      { return Prefix + "agents/" + agent + "/owner" }
func EpochKey(agent string) string      { return Prefix + "agents/" + agent + "/epoch" }
func EpochsPrefix(agent string) string  { return Prefix + "agents/" + agent + "/epochs/" }
func LogPrefix(agent string) string     { return Prefix + "agents/" + agent + "/log/" }
func CheckpointKey(agent string) string { return Prefix + "agents/" + agent + "/checkpoint" }
func TargetKey(agent string) string     { return Prefix + "agents/" + agent + "/target" }
func HostsPrefix() string               { return Prefix + "hosts/" }
func ElectionPrefix() string            { return Prefix + "controller/election/" }
func DeclarePrefix() string             { return Prefix + "controller/declare/" }
func DeclareKey(region string) string   { return DeclarePrefix() + region }
func DeadPrefix() string                { return Prefix + "controller/dead/" }
func DeadKey(region string) string      { return DeadPrefix() + region }
func LogKey(agent string, seq int64) string {
	return fmt.Sprintf("%s%020d", LogPrefix(agent), seq)
}
func EpochRecordKey(agent string, epoch int64) string {
	return fmt.Sprintf("%s%020d", EpochsPrefix(agent), epoch)
}

// RegionDead is what the controller leader writes to DeadKey(region) just before it revokes
// a dead region's host lease: how it knew, for the harness to time failure detection.
// Durations, not timestamps, so no clock need agree with the reader's.
type RegionDead struct {
	Region       string `json:"region"`
	FailedProbes int    `json:"failed_probes"`
	// FirstFailureAgoMs: the first of the failed probes in a row began this long before the
	// record was written; 0 for a region declared dead on request.
	FirstFailureAgoMs int64 `json:"first_failure_ago_ms"`
	Declared          bool  `json:"declared,omitempty"` // on request (Declare), not by probes
	Lease             int64 `json:"lease"`
}
