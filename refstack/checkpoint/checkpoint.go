// Package checkpoint holds agent state in the regions' object stores: checkpoint chains
// (a full snapshot plus deltas, each object with its sha256), the schema versions of the
// object format and their migration, the metadata that lists the chains in etcd, and a
// Store that writes objects to the regions and restores the newest verified chain from
// whichever regions still hold intact copies.
//
// Schema history:
//
//	1  one flat full snapshot per checkpoint (Snapshot); the metadata names that one object
//	   in api.CheckpointMeta's top-level fields.
//	2  chains: Object{Kind: full|delta}; the metadata (Meta) lists up to two chains, newest
//	   first, each object with the regions that hold it.
//
// Restore reads both; schema-1 objects are migrated to schema-2 fulls (MigrateV1).
package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/geodrill/geodrill/refstack/api"
)

// Schema versions.
const (
	SchemaV1 = 1 // flat full snapshot (Snapshot)
	Schema   = 2 // chain object (Object), written today
)

// Object kinds.
const (
	KindFull  = "full"
	KindDelta = "delta"
)

// Snapshot is the schema-1 object: a full agent state. It is still decoded (and written by
// EncodeV1, which the migration tests use) so checkpoints of older stacks restore.
type Snapshot struct {
	Schema int               `json:"schema"`
	Agent  string            `json:"agent"`
	Epoch  int64             `json:"epoch"` // epoch of the owner that wrote it
	Seq    int64             `json:"seq"`   // includes every write with seq <= Seq
	Data   map[string]string `json:"data"`
}

// Object is the schema-2 object: one link of a chain. A full holds the whole state at Seq;
// a delta holds the keys whose value changed after BaseSeq (the previous link) up to Seq.
// The register map has no deletes, so changed values are all a delta needs.
type Object struct {
	Schema  int               `json:"schema"`
	Kind    string            `json:"kind"`
	Agent   string            `json:"agent"`
	Epoch   int64             `json:"epoch"`
	Seq     int64             `json:"seq"`
	BaseSeq int64             `json:"base_seq,omitempty"` // delta: Seq of the previous link
	Data    map[string]string `json:"data"`
}

// ObjectKey names the object of a schema-1 full snapshot. Seq first so keys sort by age;
// the epoch keeps two owners that snapshot the same seq from overwriting each other.
func ObjectKey(agent string, seq, epoch int64) string {
	return fmt.Sprintf("agents/%s/full-%020d-e%d.json", agent, seq, epoch)
}

// ChainObjectKey names a schema-2 object.
func ChainObjectKey(agent, kind string, seq, epoch int64) string {
	return fmt.Sprintf("agents/%s/%s-%020d-e%d.v2.json", agent, kind, seq, epoch)
}

// EncodeV1 returns the schema-1 bytes of s and their hex sha256.
func EncodeV1(s Snapshot) ([]byte, string, error) {
	s.Schema = SchemaV1
	if s.Data == nil {
		s.Data = map[string]string{}
	}
	body, err := json.Marshal(s)
	if err != nil {
		return nil, "", fmt.Errorf("checkpoint: encode %s seq %d: %w", s.Agent, s.Seq, err)
	}
	return body, Sum(body), nil
}

// Encode returns the schema-2 bytes of o and their hex sha256.
func Encode(o Object) ([]byte, string, error) {
	o.Schema = Schema
	if o.Data == nil {
		o.Data = map[string]string{}
	}
	if o.Kind != KindFull && o.Kind != KindDelta {
		return nil, "", fmt.Errorf("checkpoint: encode %s seq %d: kind %q is neither full nor delta", o.Agent, o.Seq, o.Kind)
	}
	body, err := json.Marshal(o)
	if err != nil {
		return nil, "", fmt.Errorf("checkpoint: encode %s seq %d: %w", o.Agent, o.Seq, err)
	}
	return body, Sum(body), nil
}

// Sum is the hex sha256 of body.
func Sum(body []byte) string {
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

// ErrCorrupt means the object's bytes do not match the checkpoint metadata.
var ErrCorrupt = errors.New("checkpoint corrupt")

// MigrateV1 turns a schema-1 snapshot into the schema-2 full it is equivalent to.
func MigrateV1(s Snapshot) Object {
	data := s.Data
	if data == nil {
		data = map[string]string{}
	}
	return Object{Schema: Schema, Kind: KindFull, Agent: s.Agent, Epoch: s.Epoch, Seq: s.Seq, Data: maps.Clone(data)}
}

// Decode verifies body against om (sha256, size) and decodes it in whatever schema it was
// written, migrating older schemas to an Object. The decoded agent, seq and kind must be
// the ones the metadata promises.
func Decode(body []byte, agent string, om ObjectMeta) (Object, error) {
	if got := Sum(body); got != om.SHA256 {
		return Object{}, fmt.Errorf("%w: sha256 %s, metadata says %s", ErrCorrupt, got, om.SHA256)
	}
	if om.Size != 0 && int64(len(body)) != om.Size {
		return Object{}, fmt.Errorf("%w: %d bytes, metadata says %d", ErrCorrupt, len(body), om.Size)
	}
	var head struct {
		Schema int `json:"schema"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return Object{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var o Object
	switch head.Schema {
	case SchemaV1:
		var s Snapshot
		if err := json.Unmarshal(body, &s); err != nil {
			return Object{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		o = MigrateV1(s)
	case Schema:
		if err := json.Unmarshal(body, &o); err != nil {
			return Object{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	default:
		return Object{}, fmt.Errorf("checkpoint: schema %d, this build reads schemas %d..%d: upgrade refstack",
			head.Schema, SchemaV1, Schema)
	}
	kind := om.Kind
	if kind == "" {
		kind = KindFull // schema-1 metadata has no kind
	}
	switch {
	case o.Agent != agent || o.Seq != om.Seq:
		return Object{}, fmt.Errorf("%w: holds %s seq %d, want %s seq %d", ErrCorrupt, o.Agent, o.Seq, agent, om.Seq)
	case o.Kind != kind:
		return Object{}, fmt.Errorf("%w: holds a %s, metadata says %s", ErrCorrupt, o.Kind, kind)
	}
	if o.Data == nil {
		o.Data = map[string]string{}
	}
	return o, nil
}

// ObjectMeta describes one object of a chain in the metadata.
type ObjectMeta struct {
	Object  string   `json:"object"` // object key, the same in every region's bucket
	Kind    string   `json:"kind"`
	Seq     int64    `json:"seq"`
	BaseSeq int64    `json:"base_seq,omitempty"`
	Epoch   int64    `json:"epoch"`
	SHA256  string   `json:"sha256"`
	Size    int64    `json:"size"`
	Schema  int      `json:"schema"`
	Regions []string `json:"regions"` // regions known to hold an intact copy
	UnixNs  int64    `json:"unix_ns"` // when the state was cut
}

// MaxChains is how many chains the metadata keeps: the newest and the one before, so a
// restore can fall back when the newest full is nowhere intact (e.g. it was cut just
// before its region died and never shipped).
const MaxChains = 2

// Meta is the checkpoint metadata of an agent in etcd (api.CheckpointKey). Chains (newest
// first, each a full then its deltas in order) is authoritative in schema 2. The embedded
// top-level fields describe the newest object; metadata without chains is schema 1 and
// names its single full snapshot there.
type Meta struct {
	api.CheckpointMeta
	Chains [][]ObjectMeta `json:"chains,omitempty"`
}

// ParseMeta decodes the metadata value.
func ParseMeta(b []byte) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("checkpoint metadata: %w", err)
	}
	return m, nil
}

// Empty reports whether m names no checkpoint.
func (m Meta) Empty() bool { return len(m.Chains) == 0 && m.Object == "" }

// chains returns the chains to restore from, schema-1 metadata as a one-object chain.
func (m Meta) chains() [][]ObjectMeta {
	if len(m.Chains) > 0 || m.Object == "" {
		return m.Chains
	}
	schema := m.Schema
	if schema == 0 {
		schema = SchemaV1
	}
	return [][]ObjectMeta{{{
		Object: m.Object, Kind: KindFull, Seq: m.Seq, Epoch: m.Epoch, SHA256: m.SHA256,
		Size: m.Size, Schema: schema, Regions: m.Regions,
	}}}
}

// Current is the newest chain (nil if none).
func (m Meta) Current() []ObjectMeta {
	if c := m.chains(); len(c) > 0 {
		return c[0]
	}
	return nil
}

// Append returns m with om added: a full starts a new chain (the oldest beyond MaxChains is
// forgotten), a delta extends the newest chain.
func (m Meta) Append(om ObjectMeta) Meta {
	chains := cloneChains(m.chains())
	if om.Kind == KindFull || len(chains) == 0 {
		chains = append([][]ObjectMeta{{om}}, chains...)
		if len(chains) > MaxChains {
			chains = chains[:MaxChains]
		}
	} else {
		chains[0] = append(chains[0], om)
	}
	return withChains(chains)
}

// Objects lists every object m references, chain by chain.
func (m Meta) Objects() []ObjectMeta {
	var out []ObjectMeta
	for _, c := range m.chains() {
		out = append(out, c...)
	}
	return out
}

// Dropped lists the objects of m that next no longer references: garbage once next is
// published.
func (m Meta) Dropped(next Meta) []ObjectMeta {
	kept := map[string]bool{}
	for _, om := range next.Objects() {
		kept[om.Object] = true
	}
	var out []ObjectMeta
	for _, om := range m.Objects() {
		if !kept[om.Object] {
			out = append(out, om)
		}
	}
	return out
}

// WithChain returns metadata whose only chain is chain (a restored prefix, cloned).
func WithChain(chain []ObjectMeta) Meta {
	if len(chain) == 0 {
		return Meta{}
	}
	return withChains(cloneChains([][]ObjectMeta{chain}))
}

// Held returns m with region added to the holders of object, and whether anything changed.
func (m Meta) Held(object, region string) (Meta, bool) {
	chains := cloneChains(m.chains())
	for _, c := range chains {
		for i := range c {
			if c[i].Object == object {
				for _, r := range c[i].Regions {
					if r == region {
						return m, false
					}
				}
				c[i].Regions = append(c[i].Regions, region)
				return withChains(chains), true
			}
		}
	}
	return m, false
}

func withChains(chains [][]ObjectMeta) Meta {
	newest := chains[0][len(chains[0])-1]
	return Meta{
		CheckpointMeta: api.CheckpointMeta{
			Seq: newest.Seq, Epoch: newest.Epoch, Object: newest.Object, SHA256: newest.SHA256,
			Schema: Schema, Size: newest.Size, Regions: newest.Regions,
		},
		Chains: chains,
	}
}

func cloneChains(in [][]ObjectMeta) [][]ObjectMeta {
	out := make([][]ObjectMeta, len(in))
	for i, c := range in {
		out[i] = make([]ObjectMeta, len(c))
		for j, om := range c {
			om.Regions = append([]string(nil), om.Regions...)
			out[i][j] = om
		}
	}
	return out
}
