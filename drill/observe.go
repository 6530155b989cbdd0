package drill

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/geodrill/geodrill/checkers"
	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/scenarios"
	"github.com/geodrill/geodrill/timeline"
)

// maxObjectBytes bounds what one checkpoint read may take; checkpoints of the reference
// stack are kilobytes, so a bigger object is itself a finding (recorded, not hashed).
const maxObjectBytes = 64 << 20

// maxBodyBytes bounds the object contents kept in the observations (for the convergence
// checker's rebuild of each agent); a bigger object is hashed but its contents are not kept.
const maxBodyBytes = 1 << 20

// observe collects the post-run facts the integrity and convergence checkers judge: every
// etcd key under the agents prefix with its value (the op log is truncated at each
// checkpoint, so its tail stays short) and every object in every region's checkpoint bucket
// with the sha256 of its bytes and, up to maxBodyBytes, the bytes. It verifies nothing; what
// it cannot read is recorded in Errors so the checkers can say unknown rather than pass.
func observe(ctx context.Context, eps clusters.Endpoints, tlsCfg *tls.Config, regions []string, clock *timeline.Clock, settle time.Duration) *checkers.Observations {
	select { // let asynchronous replication of the last checkpoints finish first
	case <-ctx.Done():
	case <-time.After(settle):
	}
	obs := &checkers.Observations{At: clock.Now(), Regions: regions, Objects: map[string][]checkers.Object{}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := observeEtcd(ctx, eps.Etcd, tlsCfg, obs); err != nil {
		obs.Errors = append(obs.Errors, checkers.ObservationError{Source: "etcd", Error: err.Error()})
	}
	for _, r := range regions {
		objs, err := observeBucket(ctx, eps, tlsCfg, r)
		obs.Objects[r] = objs
		if err != nil {
			obs.Errors = append(obs.Errors, checkers.ObservationError{Source: "minio " + r, Error: err.Error()})
		}
	}
	return obs
}

func observeEtcd(ctx context.Context, endpoints []string, tlsCfg *tls.Config, obs *checkers.Observations) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, TLS: tlsCfg, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("connect to etcd %v: %w", endpoints, err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, api.AgentsPrefix(), clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("read %s*: %w", api.AgentsPrefix(), err)
	}
	for _, kv := range resp.Kvs {
		obs.Etcd = append(obs.Etcd, checkers.EtcdKey{Key: string(kv.Key), Value: string(kv.Value), ModRevision: kv.ModRevision})
	}
	return nil
}

func observeBucket(ctx context.Context, eps clusters.Endpoints, tlsCfg *tls.Config, region string) ([]checkers.Object, error) {
	re, ok := eps.Regions[region]
	if !ok || re.MinIO == "" {
		return nil, fmt.Errorf("no object store endpoint for region %s", region)
	}
	cli, err := minio.New(re.MinIO, &minio.Options{
		Creds:     credentials.NewStaticV4(eps.MinIOUser, eps.MinIOPassword, ""),
		Region:    "us-east-1", // skips a bucket-location round trip
		Secure:    tlsCfg != nil,
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: tlsCfg},
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", re.MinIO, err)
	}
	var out []checkers.Object
	for info := range cli.ListObjects(ctx, eps.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if info.Err != nil {
			return out, fmt.Errorf("list bucket %s: %w", eps.Bucket, info.Err)
		}
		o := checkers.Object{Key: info.Key, Size: info.Size, Modified: info.LastModified}
		sum, body, err := readObject(ctx, cli, eps.Bucket, info.Key)
		if minio.ToErrorResponse(errors.Unwrap(err)).Code == "NoSuchKey" {
			continue // garbage-collected between the listing and the read: not there any more
		}
		if err != nil {
			return out, err
		}
		o.SHA256, o.Body = sum, body
		out = append(out, o)
	}
	return out, nil
}

// readObject returns the hex sha256 of an object's bytes and the bytes themselves when
// there are at most maxBodyBytes of them ("" otherwise).
func readObject(ctx context.Context, cli *minio.Client, bucket, key string) (string, string, error) {
	obj, err := cli.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", key, err)
	}
	defer obj.Close()
	h := sha256.New()
	var body bytes.Buffer
	kept := &limitedWriter{w: &body, n: maxBodyBytes + 1}
	if _, err := io.Copy(io.MultiWriter(h, kept), io.LimitReader(obj, maxObjectBytes)); err != nil {
		return "", "", fmt.Errorf("read %s: %w", key, err)
	}
	if body.Len() > maxBodyBytes {
		return hex.EncodeToString(h.Sum(nil)), "", nil
	}
	return hex.EncodeToString(h.Sum(nil)), body.String(), nil
}

// limitedWriter keeps the first n bytes written to it and drops the rest without error.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.n -= k
	}
	return len(p), nil
}

// settleFor is how long async durability needs to checkpoint and ship the final writes: two
// checkpoint intervals plus a second. sync-geo publishes only replicated checkpoints.
func settleFor(sc *scenarios.Scenario) time.Duration {
	if sc.Stack.Durability != api.DurabilityAsync {
		return 0
	}
	iv := sc.Stack.CheckpointInterval
	if iv <= 0 {
		iv = time.Second
	}
	return 2*iv + time.Second
}
