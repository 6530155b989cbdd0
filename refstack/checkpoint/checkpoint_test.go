package checkpoint

import (
	"context"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

func TestDecodeVerifies(t *testing.T) {
	snap := Snapshot{Agent: "agent-00", Epoch: 3, Seq: 40, Data: map[string]string{"k": "v"}}
	body, sum, err := Encode(snap)
	if err != nil {
		t.Fatal(err)
	}
	meta := api.CheckpointMeta{Seq: 40, Epoch: 3, SHA256: sum, Schema: Schema, Size: int64(len(body))}
	got, err := Decode(body, "agent-00", meta)
	if err != nil || got.Data["k"] != "v" || got.Schema != Schema {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	otherSchema, otherSum, _ := encodeRaw(strings.Replace(string(body), `"schema":1`, `"schema":2`, 1))
	for name, tc := range map[string]struct {
		body  []byte
		meta  api.CheckpointMeta
		agent string
		want  string
	}{
		"flipped byte":  {flip(body), meta, "agent-00", "sha256"},
		"truncated":     {body[:len(body)-1], meta, "agent-00", "sha256"},
		"other agent":   {body, meta, "agent-01", "holds agent-00"},
		"other seq":     {body, withSeq(meta, 41), "agent-00", "seq 41"},
		"future schema": {otherSchema, api.CheckpointMeta{Seq: 40, SHA256: otherSum}, "agent-00", "schema 2"},
	} {
		if _, err := Decode(tc.body, tc.agent, tc.meta); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		}
	}
}

func encodeRaw(s string) ([]byte, string, error) { return []byte(s), Sum([]byte(s)), nil }

func flip(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[len(out)/2] ^= 1
	return out
}

func withSeq(m api.CheckpointMeta, seq int64) api.CheckpointMeta { m.Seq = seq; return m }

func TestObjectKeySortsBySeq(t *testing.T) {
	if a, b := ObjectKey("agent-00", 9, 5), ObjectKey("agent-00", 10, 1); a >= b {
		t.Errorf("%s sorts after %s", a, b)
	}
}

func TestFetchOrder(t *testing.T) {
	got := fetchOrder([]string{"a", "b", "c"}, []string{"c", "x", "a"})
	if strings.Join(got, ",") != "c,a,b" {
		t.Errorf("fetchOrder = %v, want c,a,b", got)
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
	snap := Snapshot{Agent: "agent-00", Epoch: 1, Seq: 7, Data: map[string]string{"k": "v7"}}
	body, sum, _ := Encode(snap)
	key := ObjectKey("agent-00", 7, 1)
	held, errs := s.Replicate(ctx, "b", key, body)
	if strings.Join(held, ",") != "b,a" || errs["c"] == nil || len(errs) != 1 {
		t.Fatalf("Replicate held %v errs %v, want b,a and c failing", held, errs)
	}
	meta := api.CheckpointMeta{Seq: 7, Epoch: 1, Object: key, SHA256: sum, Schema: Schema, Size: int64(len(body)), Regions: held}

	if err := s.Put(ctx, "b", key, flip(body)); err != nil {
		t.Fatal(err)
	}
	got, from, err := s.Fetch(ctx, "agent-00", meta, []string{"b", "a"})
	if err != nil || from != "a" || got.Data["k"] != "v7" {
		t.Fatalf("Fetch with b corrupt = %+v from %q, %v; want a's copy", got, from, err)
	}
	if err := s.Remove(ctx, "a", key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Fetch(ctx, "agent-00", meta, []string{"b", "a"}); err == nil ||
		!strings.Contains(err.Error(), "region b") || !strings.Contains(err.Error(), "region a") {
		t.Fatalf("Fetch with no intact copy: %v, want an error naming both regions", err)
	}
}
