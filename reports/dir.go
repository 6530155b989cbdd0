package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// NewDir creates base/<name>-<YYYYmmdd-HHMMSS>-seed<seed>, with now formatted in its own
// location. If that exists (two runs in one second) it adds -2, -3, ... The directory is
// claimed with one Mkdir, so concurrent runs never share one.
func NewDir(base, scenarioName string, seed int64, now time.Time) (string, error) {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("reports: run dir: %w", err)
	}
	stem := fmt.Sprintf("%s-%s-seed%d", safeName(scenarioName), now.Format("20060102-150405"), seed)
	for i := 1; i <= 1000; i++ {
		name := stem
		if i > 1 {
			name = fmt.Sprintf("%s-%d", stem, i)
		}
		dir := filepath.Join(base, name)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("reports: run dir: %w", err)
		}
	}
	return "", fmt.Errorf("reports: run dir: %s: too many runs with this name", filepath.Join(base, stem))
}

// safeName keeps a scenario name usable as one path element.
func safeName(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, name)
	s = strings.Trim(s, ".-")
	if s == "" {
		return "run"
	}
	return s
}
