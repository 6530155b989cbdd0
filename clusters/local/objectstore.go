package local

import "fmt"

// ObjectStore says where a region's object store answers and how to sign in to it, for faults
// that act on the checkpoint objects themselves (checkpoint-corruption).
func (c *Cluster) ObjectStore(region string) (addr, user, password, bucket string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	re, ok := c.eps.Regions[region]
	if !ok || re.MinIO == "" {
		return "", "", "", "", fmt.Errorf("local: no object store in region %q (is the cluster up, and the region in the topology?)", region)
	}
	return re.MinIO, c.eps.MinIOUser, c.eps.MinIOPassword, c.eps.Bucket, nil
}
