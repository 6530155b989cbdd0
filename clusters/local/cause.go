package local

import (
	"os"
	"path/filepath"
	"strings"
)

// knownCauses are log phrases that name why a service could not start or keep running,
// each with what to do. The first found leads the error, ahead of the log tail (where a
// goroutine dump can bury it).
var knownCauses = []struct{ phrase, fix string }{
	{"no space left on device", "free space on the run directory's disk"},
	{"address already in use", "another process took the service's port; stop it or run again"},
	{"permission denied", "check the permissions of the run directory and the binaries"},
	{"too many open files", "raise the open-file limit (ulimit -n)"},
	{"cannot allocate memory", "free memory, or run a smaller scenario"},
}

// rootCause names the first known cause found in the last 64 KiB of the logs, as
// "minio a: no space left on device (free space ...): ", or "" when none is found.
func rootCause(logs ...string) string {
	for _, l := range logs {
		f, err := os.Open(l)
		if err != nil {
			continue
		}
		const window = 64 << 10
		st, err := f.Stat()
		if err != nil {
			f.Close()
			continue
		}
		off := max(0, st.Size()-window)
		buf := make([]byte, st.Size()-off)
		n, _ := f.ReadAt(buf, off)
		f.Close()
		text := strings.ToLower(string(buf[:n]))
		for _, c := range knownCauses {
			if strings.Contains(text, c.phrase) {
				name := strings.TrimSuffix(filepath.Base(l), ".log")
				return name + ": " + c.phrase + " (" + c.fix + "): "
			}
		}
	}
	return ""
}
