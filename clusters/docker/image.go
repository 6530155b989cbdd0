package docker

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
)

// imageRepo names the stack's image; its tag is the hash of what it holds.
const imageRepo = "geodrill-stack"

// imageBinDir is where the binaries sit in the image: a service's binary is
// imageBinDir/<its name on this machine>.
const imageBinDir = ImageBinDir

// ImageBinDir is where the stack image holds its binaries, for other providers that run
// the image (kind).
const ImageBinDir = "/geodrill"

// BuildImage builds the stack's image from the binaries in bin (or finds it, built from the
// same content) on the Docker daemon of the environment, and returns its reference. The
// kind provider loads it into its clusters.
func BuildImage(ctx context.Context, bin string) (string, error) {
	cli, err := dial(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	return ensureImage(ctx, cli, bin)
}

// dockerfile is the whole image: no base, nothing pulled. /tmp is there for MinIO and Go's
// os.TempDir.
const dockerfile = `FROM scratch
COPY refstack minio ` + imageBinDir + `/
COPY tmp /tmp
ENTRYPOINT ["` + imageBinDir + `/refstack"]
`

// imageBinaries are the binaries the image holds, from the binaries directory.
var imageBinaries = []string{"refstack", "minio"}

// ensureImage builds the stack's image from bin unless an image with the same content is
// there already, and returns its reference.
func ensureImage(ctx context.Context, cli *client.Client, bin string) (string, error) {
	h := sha256.New()
	io.WriteString(h, dockerfile)
	for _, name := range imageBinaries {
		path := filepath.Join(bin, name)
		if err := static(path); err != nil {
			return "", err
		}
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("docker image: %w (run make build)", err)
		}
		_, err = io.Copy(h, bufio.NewReaderSize(f, 1<<20))
		f.Close()
		if err != nil {
			return "", fmt.Errorf("docker image: read %s: %w", path, err)
		}
	}
	ref := imageRepo + ":" + hex.EncodeToString(h.Sum(nil))[:16]
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil // cached: same binaries, same image
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, bin)) }()
	res, err := cli.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true,
		Labels: map[string]string{LabelImage: "stack"},
	})
	if err != nil {
		pr.Close()
		return "", fmt.Errorf("docker image: build %s: %w", ref, err)
	}
	defer res.Body.Close()
	// The build streams JSON messages; an error arrives as one of them.
	dec := json.NewDecoder(res.Body)
	var last []string
	for {
		var m struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("docker image: build %s: %w", ref, err)
		}
		if m.Error != "" {
			return "", fmt.Errorf("docker image: build %s: %s (after: %s)", ref, m.Error, strings.Join(last, " | "))
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			last = append(last, s)
			if len(last) > 5 {
				last = last[1:]
			}
		}
	}
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		return "", fmt.Errorf("docker image: %s not there after its build: %w", ref, err)
	}
	return ref, nil
}

// static refuses a dynamically linked binary: a FROM scratch image has no loader.
func static(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("docker image: %s: %w (run make build)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("docker image: %s is dynamically linked and cannot run FROM scratch; make build builds it static (CGO_ENABLED=0)", path)
		}
	}
	return nil
}

// writeContext writes the build context: the Dockerfile, the binaries and an empty tmp/.
func writeContext(w io.Writer, bin string) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, dockerfile); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
		return err
	}
	for _, name := range imageBinaries {
		f, err := os.Open(filepath.Join(bin, name))
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: st.Size()})
		}
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}
