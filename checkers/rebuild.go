package checkers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/geodrill/geodrill/workload/history"
)

// RebuildMismatch is a key whose final read disagrees with the agent's state rebuilt from
// its newest checkpoint chain plus the op-log tail.
type RebuildMismatch struct {
	Agent        string `json:"agent"`
	Key          string `json:"key"`
	Rebuilt      string `json:"rebuilt"`
	RebuiltFound bool   `json:"rebuilt_found"`
	// From names where the rebuilt value came from: a log entry or a checkpoint object.
	From      string `json:"from,omitempty"`
	Read      string `json:"final_read"`
	ReadFound bool   `json:"final_read_found"`
	ReadOp    int64  `json:"final_read_op"`
	// FinalWrites are the values of final writes to the key that may have landed after the
	// read (ok or unknown); the rebuilt value may be any of them.
	FinalWrites []string `json:"final_writes,omitempty"`
}

// rebuiltValue is one key of a rebuilt agent and where its value came from.
type rebuiltValue struct {
	value string
	from  string
}

// chainObject is a checkpoint object's contents as the checker reads them: schema 2
// (a full or a delta) or schema 1 (a full snapshot without a kind).
type chainObject struct {
	Schema int               `json:"schema"`
	Kind   string            `json:"kind"`
	Agent  string            `json:"agent"`
	Seq    int64             `json:"seq"`
	Data   map[string]string `json:"data"`
}

// judgeRebuild rebuilds every agent from the observations — the newest chain its checkpoint
// metadata lists, applied link by link from copies whose bytes match the metadata's sha256,
// then the op-log entries after the chain's seq in order — and compares each key with its
// final read. A final write after the read may have changed the key: its value is then
// accepted too. Agents that cannot be rebuilt (no intact copy, a log gap, observations
// without contents) make the verdict unknown, never a pass.
func judgeRebuild(in Input, d *ConvergenceData) Verdict {
	v := Verdict{Checker: NameConvergence, Target: "agents rebuilt from chain + log match the final reads"}
	obs := in.Observations
	if obs == nil {
		v.Status, v.Measured = Unknown, "not observed"
		v.Detail = "the run has no observations.json"
		return v
	}
	reads := map[keyID]history.Op{}
	writes := map[keyID][]history.Op{}
	for _, op := range in.History {
		if !op.Final {
			continue
		}
		k := keyOf(op)
		switch {
		case op.Kind == history.Get && op.Outcome == history.OK:
			if r, ok := reads[k]; !ok || complete(op) > complete(r) {
				reads[k] = op
			}
		case op.Kind == history.Put && op.Outcome != history.Fail:
			writes[k] = append(writes[k], op)
		}
	}
	facts := obs.byAgent()
	agents := map[string]bool{}
	for k := range reads {
		agents[k.Agent] = true
	}
	names := slices.Sorted(maps.Keys(agents))
	for _, agent := range names {
		state, why := map[string]rebuiltValue{}, ""
		if f := facts[agent]; f != nil {
			state, why = rebuildAgent(obs, agent, f)
		}
		if why != "" {
			if d.NotRebuilt == nil {
				d.NotRebuilt = map[string]string{}
			}
			d.NotRebuilt[agent] = why
			continue
		}
		d.RebuiltAgents++
		var keys []keyID
		for k := range reads {
			if k.Agent == agent {
				keys = append(keys, k)
			}
		}
		sortKeys(keys)
		for _, k := range keys {
			d.RebuiltKeys++
			if m, ok := rebuildMismatch(k, state, reads[k], writes[k]); !ok {
				d.Mismatches = append(d.Mismatches, m)
			}
		}
	}

	v.Value = float64(len(d.Mismatches))
	reasons := func() string {
		items := make([]string, 0, len(d.NotRebuilt))
		for _, a := range slices.Sorted(maps.Keys(d.NotRebuilt)) {
			items = append(items, a+": "+d.NotRebuilt[a])
		}
		return listFew(items, 3)
	}
	switch {
	case len(d.Mismatches) > 0:
		v.Status = Fail
		v.Measured = fmt.Sprintf("%d of %d keys differ", len(d.Mismatches), d.RebuiltKeys)
		items := make([]string, len(d.Mismatches))
		for i, m := range d.Mismatches {
			items[i] = fmt.Sprintf("%s/%s: rebuilt %s (%s), final read %s (op %d)", m.Agent, m.Key,
				showValue(m.Rebuilt, m.RebuiltFound), m.From, showValue(m.Read, m.ReadFound), m.ReadOp)
		}
		v.Detail = listFew(items, 3)
	case obs.failed("etcd"):
		v.Status, v.Measured = Unknown, "etcd not read"
		v.Detail = observationErrors(obs)
	case len(d.NotRebuilt) > 0:
		v.Status = Unknown
		v.Measured = fmt.Sprintf("%d of %d agents not rebuilt", len(d.NotRebuilt), len(names))
		v.Detail = reasons()
	case d.RebuiltKeys == 0:
		v.Status, v.Measured = Unknown, "no final reads"
		v.Detail = "the history has no ok final reads to compare the rebuilt agents with"
	default:
		v.Status = Pass
		v.Measured = fmt.Sprintf("%d keys of %d agents match", d.RebuiltKeys, d.RebuiltAgents)
	}
	return v
}

// rebuildMismatch compares one key's rebuilt value with its final read and the final writes
// that may have followed it; ok is true when they agree.
func rebuildMismatch(k keyID, state map[string]rebuiltValue, read history.Op, writes []history.Op) (RebuildMismatch, bool) {
	got, found := state[k.Key]
	allowed := map[string]bool{}
	written := false
	for _, w := range writes {
		if complete(w) >= read.Invoke { // a final write before the read is what it read
			allowed[w.Value] = true
			written = written || w.Outcome == history.OK
		}
	}
	if found && allowed[got.value] {
		return RebuildMismatch{}, true
	}
	seen := readValue(read)
	if !written && found == read.Found && (!found || got.value == seen) {
		return RebuildMismatch{}, true
	}
	m := RebuildMismatch{Agent: k.Agent, Key: k.Key, Rebuilt: got.value, RebuiltFound: found, From: got.from,
		Read: seen, ReadFound: read.Found, ReadOp: read.ID}
	if !read.Found {
		m.Read = ""
	}
	for _, w := range writes {
		if allowed[w.Value] {
			m.FinalWrites = append(m.FinalWrites, w.Value)
		}
	}
	if !found {
		m.From = "absent from the checkpoint chain and the log"
	}
	return m, false
}

// rebuildAgent applies the agent's newest chain and its log tail; why says what stopped it.
func rebuildAgent(obs *Observations, agent string, f *agentFacts) (map[string]rebuiltValue, string) {
	state := map[string]rebuiltValue{}
	var seq int64
	if f.metaErr != "" {
		return nil, "checkpoint metadata does not decode: " + f.metaErr
	}
	if m := f.meta; m != nil && (len(m.Chains) > 0 || m.Object != "") {
		chain := []chainLink{{Object: m.Object, Kind: "full", Seq: m.Seq, SHA256: m.SHA256, Size: m.Size, Regions: m.Regions}}
		if len(m.Chains) > 0 {
			chain = m.Chains[0]
		}
		for _, link := range chain {
			body, why := intactBody(obs, link)
			if why != "" {
				return nil, why
			}
			var o chainObject
			if err := json.Unmarshal([]byte(body), &o); err != nil {
				return nil, fmt.Sprintf("%s does not decode: %v", link.Object, err)
			}
			if o.Seq != link.Seq || (o.Agent != "" && o.Agent != agent) {
				return nil, fmt.Sprintf("%s holds %s seq %d; the metadata says %s seq %d", link.Object, o.Agent, o.Seq, agent, link.Seq)
			}
			if o.Kind != "delta" { // schema 1 has no kind: a full snapshot
				state = map[string]rebuiltValue{}
			}
			for k, v := range o.Data {
				state[k] = rebuiltValue{v, "checkpoint " + link.Object}
			}
			seq = o.Seq
		}
	}
	switch {
	case f.logUnread > 0:
		return nil, "the observations list the op log without values (collected by an older geodrill): re-run the drill to judge this"
	case len(f.logBad) > 0:
		return nil, "log entries do not decode: " + listFew(f.logBad, 3)
	}
	var tail []int64
	for s := range f.log {
		if s > seq {
			tail = append(tail, s)
		}
	}
	sort.Slice(tail, func(i, j int) bool { return tail[i] < tail[j] })
	for i, s := range tail {
		if s != seq+int64(i)+1 {
			return nil, fmt.Sprintf("the log after seq %d misses seq %d", seq, seq+int64(i)+1)
		}
		e := f.log[s]
		state[e.Key] = rebuiltValue{e.Value, fmt.Sprintf("log seq %d, epoch %d", e.Seq, e.Epoch)}
	}
	return state, ""
}

// intactBody returns the contents of a copy of link whose bytes match the metadata's sha256,
// trying the regions the metadata names first.
func intactBody(obs *Observations, link chainLink) (string, string) {
	regions := append(append([]string(nil), link.Regions...), obs.Regions...)
	listed, kept := false, false
	for _, r := range regions {
		obj, ok := obs.object(r, link.Object)
		if !ok {
			continue
		}
		listed = true
		if obj.Body == "" {
			continue
		}
		kept = true
		sum := sha256.Sum256([]byte(obj.Body))
		if hex.EncodeToString(sum[:]) == link.SHA256 {
			return obj.Body, ""
		}
	}
	switch {
	case listed && !kept:
		return "", fmt.Sprintf("the observations hold no contents of %s (collected by an older geodrill, or over the size kept)", link.Object)
	case listed:
		return "", fmt.Sprintf("no copy of %s matches its metadata's sha256", link.Object)
	default:
		return "", fmt.Sprintf("no region holds %s", link.Object)
	}
}

func showValue(v string, found bool) string {
	if !found {
		return "∅"
	}
	return fmt.Sprintf("%q", v)
}
