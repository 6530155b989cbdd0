package checkpoint

import (
	"bytes"
	"context"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/refstack/bugs"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

func TestDecodeVerifies(t *testing.T) {
	o := Object{Kind: KindDelta, Agent: "agent-00", Epoch: 3, Seq: 40, BaseSeq: 30, Data: map[string]string{"k": "v"}}
	body, sum, err := Encode(o)
	if err != nil {
		t.Fatal(err)
	}
	om := ObjectMeta{Kind: KindDelta, Seq: 40, Epoch: 3, SHA256: sum, Schema: Schema, Size: int64(len(body))}
	got, err := Decode(body, "agent-00", om)
	if err != nil || got.Data["k"] != "v" || got.Schema != Schema || got.BaseSeq != 30 {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	future, futureSum, _ := encodeRaw(strings.Replace(string(body), `"schema":2`, `"schema":3`, 1))
	for name, tc := range map[string]struct {
		body  []byte
		meta  ObjectMeta
		agent string
		want  string
	}{
		"flipped byte":  {flip(body), om, "agent-00", "sha256"},
		"truncated":     {body[:len(body)-1], om, "agent-00", "sha256"},
		"other agent":   {body, om, "agent-01", "holds agent-00"},
		"other seq":     {body, withSeq(om, 41), "agent-00", "seq 41"},
		"other kind":    {body, withKind(om, KindFull), "agent-00", "metadata says full"},
		"future schema": {future, ObjectMeta{Seq: 40, Kind: KindDelta, SHA256: futureSum}, "agent-00", "schema 3"},
	} {
		if _, err := Decode(tc.body, tc.agent, tc.meta); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		}
	}
}

// A schema-1 snapshot, as the previous release wrote it, decodes as a schema-2 full.
func TestDecodeMigratesSchemaV1(t *testing.T) {
	body, sum, err := EncodeV1(Snapshot{Agent: "agent-00", Epoch: 2, Seq: 9, Data: map[string]string{"k1": "a", "k2": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"schema":1`)) || bytes.Contains(body, []byte(`"kind"`)) {
		t.Fatalf("EncodeV1 wrote %s, want the flat schema-1 layout", body)
	}
	// Schema-1 metadata has no kind; the decoder takes it as a full.
	got, err := Decode(body, "agent-00", ObjectMeta{Seq: 9, SHA256: sum, Size: int64(len(body)), Schema: SchemaV1})
	want := Object{Schema: Schema, Kind: KindFull, Agent: "agent-00", Epoch: 2, Seq: 9, Data: map[string]string{"k1": "a", "k2": "b"}}
	if err != nil || got.Kind != want.Kind || got.Schema != Schema || got.Seq != 9 || got.Epoch != 2 || !maps.Equal(got.Data, want.Data) {
		t.Fatalf("Decode(v1) = %+v, %v; want %+v", got, err, want)
	}
}

func encodeRaw(s string) ([]byte, string, error) { return []byte(s), Sum([]byte(s)), nil }

func flip(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[len(out)/2] ^= 1
	return out
}

func withSeq(m ObjectMeta, seq int64) ObjectMeta    { m.Seq = seq; return m }
func withKind(m ObjectMeta, kind string) ObjectMeta { m.Kind = kind; return m }

func TestObjectKeySortsBySeq(t *testing.T) {
	if a, b := ObjectKey("agent-00", 9, 5), ObjectKey("agent-00", 10, 1); a >= b {
		t.Errorf("%s sorts after %s", a, b)
	}
	if a, b := ChainObjectKey("agent-00", KindDelta, 9, 5), ChainObjectKey("agent-00", KindDelta, 10, 1); a >= b {
		t.Errorf("%s sorts after %s", a, b)
	}
}

func TestFetchOrder(t *testing.T) {
	got := fetchOrder([]string{"a", "b", "c"}, []string{"c", "x", "a"})
	if strings.Join(got, ",") != "c,a,b" {
		t.Errorf("fetchOrder = %v, want c,a,b", got)
	}
}

func TestMetaAppendAndHeld(t *testing.T) {
	om := func(kind string, seq int64) ObjectMeta {
		return ObjectMeta{Object: ChainObjectKey("x", kind, seq, 1), Kind: kind, Seq: seq, Regions: []string{"a"}}
	}
	var m Meta
	if !m.Empty() {
		t.Fatal("zero Meta not empty")
	}
	m = m.Append(om(KindFull, 1)).Append(om(KindDelta, 2)).Append(om(KindDelta, 3))
	if len(m.Chains) != 1 || len(m.Chains[0]) != 3 || m.Seq != 3 || m.Schema != Schema {
		t.Fatalf("after full+2 deltas: %+v", m)
	}
	m = m.Append(om(KindFull, 4)).Append(om(KindFull, 5))
	if len(m.Chains) != MaxChains || m.Chains[0][0].Seq != 5 || m.Chains[1][0].Seq != 4 {
		t.Fatalf("after two more fulls: chains %+v, want [5] [4]", m.Chains)
	}
	before := m
	m2, changed := m.Held(om(KindFull, 4).Object, "b")
	if !changed || strings.Join(m2.Chains[1][0].Regions, ",") != "a,b" {
		t.Fatalf("Held: changed %v chains %+v", changed, m2.Chains)
	}
	if strings.Join(before.Chains[1][0].Regions, ",") != "a" {
		t.Errorf("Held changed the receiver: %v", before.Chains[1][0].Regions)
	}
	if _, changed := m2.Held(om(KindFull, 4).Object, "b"); changed {
		t.Error("Held twice reported a change")
	}
	if _, changed := m2.Held(om(KindFull, 1).Object, "b"); changed {
		t.Error("Held of a forgotten chain's object reported a change")
	}
}

// Against real MinIO servers: replication reports which regions hold the object, and a
// fetch skips a region whose copy is damaged or missing.
func TestStoreReplicateAndFetch(t *testing.T) {
	a, b := testenv.StartMinio(t), testenv.StartMinio(t)
	s, err := NewStore(StoreConfig{
		Endpoints: []Endpoint{{"a", a.Addr}, {"b", b.Addr}, {"c", testenv.FreeAddr(t)}},
		User:      testenv.MinioUser, Password: testenv.MinioPassword, Bucket: testenv.Bucket(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if failed := s.EnsureBuckets(ctx); len(failed) != 1 || failed["c"] == nil {
		t.Errorf("EnsureBuckets failed regions %v, want only c", failed)
	}
	o := Object{Kind: KindFull, Agent: "agent-00", Epoch: 1, Seq: 7, Data: map[string]string{"k": "v7"}}
	body, sum, _ := Encode(o)
	key := ChainObjectKey("agent-00", KindFull, 7, 1)
	held, errs := s.Replicate(ctx, "b", key, body)
	if strings.Join(held, ",") != "b,a" || errs["c"] == nil || len(errs) != 1 {
		t.Fatalf("Replicate held %v errs %v, want b,a and c failing", held, errs)
	}
	om := ObjectMeta{Object: key, Kind: KindFull, Seq: 7, Epoch: 1, SHA256: sum, Schema: Schema, Size: int64(len(body)), Regions: held}

	if err := s.Put(ctx, "b", key, flip(body)); err != nil {
		t.Fatal(err)
	}
	got, from, err := s.Fetch(ctx, "agent-00", om, []string{"b", "a"})
	if err != nil || from != "a" || got.Data["k"] != "v7" {
		t.Fatalf("Fetch with b corrupt = %+v from %q, %v; want a's copy", got, from, err)
	}
	if err := s.Remove(ctx, "a", key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Fetch(ctx, "agent-00", om, []string{"b", "a"}); err == nil ||
		!strings.Contains(err.Error(), "region b") || !strings.Contains(err.Error(), "region a") {
		t.Fatalf("Fetch with no intact copy: %v, want an error naming both regions", err)
	}
}

// chainFixture writes two chains of agent-00 to regions a and b of real MinIO servers:
// chain 1 = full@2 + delta@4, chain 0 (newest) = full@6 + delta@8 + delta@10. Every write
// sets key k<seq> to v<seq>, so the restored state says exactly which links were applied.
type chainFixture struct {
	s    *Store
	meta Meta
	body map[string][]byte
}

func newChainFixture(t *testing.T) *chainFixture {
	t.Helper()
	a, b := testenv.SharedMinio(t, "ckpt-a"), testenv.SharedMinio(t, "ckpt-b")
	s, err := NewStore(StoreConfig{
		Endpoints: []Endpoint{{"a", a.Addr}, {"b", b.Addr}},
		User:      testenv.MinioUser, Password: testenv.MinioPassword, Bucket: testenv.Bucket(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &chainFixture{s: s, body: map[string][]byte{}}
	ctx := context.Background()
	state := map[string]string{}
	base := int64(0)
	for _, seq := range []int64{2, 4, 6, 8, 10} {
		for q := base + 1; q <= seq; q++ {
			state[keyAt(q)] = valueAt(q)
		}
		o := Object{Kind: KindDelta, Agent: "agent-00", Epoch: 1, Seq: seq, BaseSeq: base, Data: map[string]string{}}
		for q := base + 1; q <= seq; q++ {
			o.Data[keyAt(q)] = valueAt(q)
		}
		if seq == 2 || seq == 6 {
			o.Kind, o.BaseSeq, o.Data = KindFull, 0, maps.Clone(state)
		}
		body, sum, err := Encode(o)
		if err != nil {
			t.Fatal(err)
		}
		key := ChainObjectKey("agent-00", o.Kind, seq, 1)
		held, errs := s.Replicate(ctx, "a", key, body)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		f.body[key] = body
		f.meta = f.meta.Append(ObjectMeta{Object: key, Kind: o.Kind, Seq: seq, BaseSeq: o.BaseSeq, Epoch: 1,
			SHA256: sum, Size: int64(len(body)), Schema: Schema, Regions: held})
		base = seq
	}
	return f
}

func keyAt(q int64) string   { return "k" + string(rune('0'+q%10)) + string(rune('a'+q/10)) }
func valueAt(q int64) string { return "v" + keyAt(q) }

// wantState is the state after every write up to seq.
func wantState(seq int64) map[string]string {
	out := map[string]string{}
	for q := int64(1); q <= seq; q++ {
		out[keyAt(q)] = valueAt(q)
	}
	return out
}

func (f *chainFixture) object(chain, i int) ObjectMeta { return f.meta.Chains[chain][i] }

// Restore picks the newest chain from the preferred region, falls back to the other
// region for an object that is corrupt or deleted there, stops at a delta that no region
// holds intact, and falls back to the older chain when the newest full is nowhere intact.
func TestRestoreChainFallsBack(t *testing.T) {
	ctx := context.Background()
	type damage struct {
		chain, index int
		region       string
		remove       bool
	}
	for _, tc := range []struct {
		name      string
		damage    []damage
		wantSeq   int64
		wantFrom  string // regions each applied object was read from
		wantSkips int
	}{
		{name: "intact", wantSeq: 10, wantFrom: "b,b,b"},
		{name: "delta corrupt in preferred region", damage: []damage{{0, 1, "b", false}}, wantSeq: 10, wantFrom: "b,a,b"},
		{name: "full deleted in preferred region", damage: []damage{{0, 0, "b", true}}, wantSeq: 10, wantFrom: "a,b,b"},
		{name: "last delta lost everywhere", damage: []damage{{0, 2, "a", true}, {0, 2, "b", false}}, wantSeq: 8, wantFrom: "b,b", wantSkips: 1},
		{name: "middle delta lost everywhere", damage: []damage{{0, 1, "a", false}, {0, 1, "b", true}}, wantSeq: 6, wantFrom: "b", wantSkips: 1},
		{name: "newest full lost everywhere", damage: []damage{{0, 0, "a", true}, {0, 0, "b", true}}, wantSeq: 4, wantFrom: "b,b", wantSkips: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newChainFixture(t)
			for _, d := range tc.damage {
				om := f.object(d.chain, d.index)
				var err error
				if d.remove {
					err = f.s.Remove(ctx, d.region, om.Object)
				} else {
					err = f.s.Put(ctx, d.region, om.Object, flip(f.body[om.Object]))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			r, err := f.s.Restore(ctx, "agent-00", f.meta, []string{"b", "a"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Seq != tc.wantSeq || !maps.Equal(r.Data, wantState(tc.wantSeq)) || strings.Join(r.From, ",") != tc.wantFrom || len(r.Skipped) != tc.wantSkips {
				t.Errorf("restored seq %d from %v data %v skipped %v; want seq %d from %s data %v, %d skipped",
					r.Seq, r.From, r.Data, r.Skipped, tc.wantSeq, tc.wantFrom, wantState(tc.wantSeq), tc.wantSkips)
			}
			if len(r.Chain) == 0 || r.Chain[len(r.Chain)-1].Seq != r.Seq {
				t.Errorf("restored chain %+v does not end at seq %d", r.Chain, r.Seq)
			}
		})
	}
	t.Run("nothing intact", func(t *testing.T) {
		f := newChainFixture(t)
		for _, c := range f.meta.Chains {
			for _, region := range []string{"a", "b"} {
				if err := f.s.Remove(ctx, region, c[0].Object); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r, err := f.s.Restore(ctx, "agent-00", f.meta, []string{"b", "a"}); err == nil || !strings.Contains(err.Error(), "no chain") {
			t.Errorf("Restore with every full gone = %+v, %v; want a no-chain error", r, err)
		}
	})
}

// A checkpoint written by the previous release (schema-1 object, schema-1 metadata with
// no chains) restores through the migration, and a new chain appended to that metadata
// keeps the old checkpoint as its fallback.
func TestRestoreMigratesSchemaV1Checkpoint(t *testing.T) {
	ctx := context.Background()
	a := testenv.SharedMinio(t, "ckpt-a")
	s, err := NewStore(StoreConfig{Endpoints: []Endpoint{{"a", a.Addr}},
		User: testenv.MinioUser, Password: testenv.MinioPassword, Bucket: testenv.Bucket(t)})
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{"k0": "old-0", "k1": "old-1"}
	body, sum, err := EncodeV1(Snapshot{Agent: "agent-00", Epoch: 4, Seq: 17, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	key := ObjectKey("agent-00", 17, 4)
	if err := s.Put(ctx, "a", key, body); err != nil {
		t.Fatal(err)
	}
	// The metadata exactly as schema 1 stored it in etcd.
	raw := `{"seq":17,"epoch":4,"object":"` + key + `","sha256":"` + sum + `","schema":1,"size":` +
		strconv.Itoa(len(body)) + `,"regions":["a"]}`
	meta, err := ParseMeta([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Restore(ctx, "agent-00", meta, []string{"a"})
	if err != nil || r.Seq != 17 || !maps.Equal(r.Data, data) || r.Region() != "a" {
		t.Fatalf("Restore(v1) = %+v, %v; want seq 17 %v from a", r, err, data)
	}
	next := WithChain(r.Chain).Append(ObjectMeta{Object: "new", Kind: KindFull, Seq: 20, Schema: Schema})
	if len(next.Chains) != 2 || next.Chains[1][0].Object != key || next.Chains[1][0].Schema != SchemaV1 {
		t.Errorf("metadata after the first schema-2 full: %+v; want the v1 snapshot as the older chain", next.Chains)
	}
}

// restore-last-delta-only: the newest chain is full 6, deltas 8 and 10; with the switch the
// restore skips delta 8 and loses its keys while claiming seq 10.
func TestBugRestoreLastDeltaOnly(t *testing.T) {
	ctx := context.Background()
	f := newChainFixture(t)
	cfg := f.s.cfg
	cfg.Bugs = bugs.Of(bugs.RestoreLastDeltaOnly)
	bugged, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    *Store
		want map[string]string
	}{
		{"off", f.s, wantState(10)},
		{string(bugs.RestoreLastDeltaOnly), bugged, func() map[string]string {
			m := wantState(10)
			delete(m, keyAt(7))
			delete(m, keyAt(8))
			return m
		}()},
	} {
		r, err := tc.s.Restore(ctx, "agent-00", f.meta, []string{"a"})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Seq != 10 || !maps.Equal(r.Data, tc.want) {
			t.Errorf("%s: restored seq %d data %v, want seq 10 data %v", tc.name, r.Seq, r.Data, tc.want)
		}
	}
}
