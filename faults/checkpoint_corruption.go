package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ObjectStores is the capability checkpoint-corruption needs: where a region's object store
// answers and the credentials and bucket of the checkpoints.
type ObjectStores interface {
	ObjectStore(region string) (addr, user, password, bucket string, err error)
}

// CheckpointCorruption rewrites every checkpoint object in one region's bucket — existing
// ones at injection and new ones while it holds — so that each still parses but carries
// wrong values ("corrupt-" prefixed): silent bit rot that only a checksum can tell from the
// truth. A restore must refuse these copies and use another region's. Recovery puts every
// original back.
type CheckpointCorruption struct {
	Region string // a region name or "busiest"

	resolved  string
	cli       *minio.Client
	bucket    string
	mu        sync.Mutex
	originals map[string][]byte // object key -> bytes before corruption
	stop      context.CancelFunc
	done      chan struct{}
}

var checkpointCorruptionKind = KindOf[NoParams]{
	Name: "checkpoint-corruption",
	Check: func(s Spec, _ *NoParams, c ParamCheck) {
		c.Region("region", s.Region, true)
	},
	Realise: func(cluster any) (Realisation, string) {
		if _, ok := cluster.(ObjectStores); !ok {
			return Unavailable, "the provider does not expose its object stores"
		}
		return Exact, "every checkpoint object in the region's bucket rewritten with wrong values (valid JSON, wrong sha256); originals put back on recovery"
	},
	New: func(s Spec, _ *NoParams) (Fault, error) {
		if s.Region == "" {
			return nil, errors.New("checkpoint-corruption needs a region (a name or \"busiest\")")
		}
		return &CheckpointCorruption{Region: s.Region}, nil
	},
}

// Inject corrupts what the bucket holds now and keeps corrupting new objects until Recover.
func (f *CheckpointCorruption) Inject(ctx context.Context, env Env) (Record, error) {
	r, err := resolveRegion(ctx, env, f.Region)
	if err != nil {
		return Record{}, err
	}
	f.resolved = r
	rec := Record{Target: "checkpoints " + r, Detail: map[string]string{"region": r}}
	addr, user, password, bucket, err := env.Cluster.(ObjectStores).ObjectStore(r)
	if err != nil {
		return rec, err
	}
	f.cli, err = minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(user, password, ""), Region: "us-east-1",
		Secure: env.TLS != nil, Transport: &http.Transport{Proxy: nil, TLSClientConfig: env.TLS}})
	if err != nil {
		return rec, fmt.Errorf("checkpoint-corruption: object store %s: %w", addr, err)
	}
	f.bucket, f.originals = bucket, map[string][]byte{}
	n, err := f.corruptAll(ctx)
	if err != nil {
		return rec, err
	}
	rec.Detail["objects"] = fmt.Sprint(n)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.stop, f.done = cancel, make(chan struct{})
	go func() { // bounded by Recover (or cleanup), which cancels it
		defer close(f.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				_, _ = f.corruptAll(lctx) // a failed round is retried on the next tick
			}
		}
	}()
	return rec, nil
}

// corruptAll rewrites every object not corrupted yet; it returns how many it rewrote.
func (f *CheckpointCorruption) corruptAll(ctx context.Context) (int, error) {
	n := 0
	for info := range f.cli.ListObjects(ctx, f.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if info.Err != nil {
			return n, fmt.Errorf("checkpoint-corruption: list %s: %w", f.bucket, info.Err)
		}
		f.mu.Lock()
		_, done := f.originals[info.Key]
		f.mu.Unlock()
		if done {
			continue
		}
		orig, err := f.get(ctx, info.Key)
		if err != nil {
			return n, err
		}
		bad, ok := corruptValues(orig)
		if !ok {
			continue // not a checkpoint this fault understands; leave it alone
		}
		if _, err := f.cli.PutObject(ctx, f.bucket, info.Key, bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
			return n, fmt.Errorf("checkpoint-corruption: rewrite %s: %w", info.Key, err)
		}
		f.mu.Lock()
		f.originals[info.Key] = orig
		f.mu.Unlock()
		n++
	}
	return n, nil
}

func (f *CheckpointCorruption) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := f.cli.GetObject(ctx, f.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("checkpoint-corruption: read %s: %w", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("checkpoint-corruption: read %s: %w", key, err)
	}
	return b, nil
}

// corruptValues prefixes every value of the object's "data" map with "corrupt-": the JSON
// stays valid and names the same agent, seq and kind, only the state is wrong.
func corruptValues(body []byte) ([]byte, bool) {
	var o map[string]any
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, false
	}
	data, ok := o["data"].(map[string]any)
	if !ok || len(data) == 0 {
		return nil, false
	}
	for k, v := range data {
		if s, ok := v.(string); ok {
			data[k] = "corrupt-" + s
		}
	}
	b, err := json.Marshal(o)
	return b, err == nil
}

// Verify has nothing to wait for: Inject rewrote every object it found before returning.
func (f *CheckpointCorruption) Verify(ctx context.Context, env Env) error { return nil }

// Recover stops corrupting and puts every original back (objects deleted meanwhile stay
// deleted).
func (f *CheckpointCorruption) Recover(ctx context.Context, env Env) error {
	if f.stop != nil {
		f.stop()
		<-f.done
		f.stop = nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for key, orig := range f.originals {
		if _, err := f.cli.StatObject(ctx, f.bucket, key, minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code == "NoSuchKey" {
			delete(f.originals, key) // garbage-collected while corrupted: nothing to put back
			continue
		}
		if _, err := f.cli.PutObject(ctx, f.bucket, key, bytes.NewReader(orig), int64(len(orig)), minio.PutObjectOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint-corruption: restore %s: %w", key, err))
			continue
		}
		delete(f.originals, key)
	}
	return errors.Join(errs...)
}

// VerifyHealed checks that nothing is left corrupted.
func (f *CheckpointCorruption) VerifyHealed(ctx context.Context, env Env) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.originals) > 0 {
		return fmt.Errorf("checkpoint-corruption: %d objects in region %s still corrupt", len(f.originals), f.resolved)
	}
	return nil
}
