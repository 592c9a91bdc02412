package testtools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var relsyncBinary built

// RelsyncCmd builds this checkout's cmd/relsync once per test process, for scripts/goose.sh to use
// instead of building it on every run (TestDemo runs the scripts with their own builds). The
// binary is this process's own (another checkout may be under test at the same time); binaries
// older than a day are left-overs of finished runs.
func RelsyncCmd(t *testing.T) string {
	t.Helper()
	return relsyncBinary.get(t, func(root, dir string) (string, error) {
		old, _ := filepath.Glob(filepath.Join(dir, "relsync-*"))
		for _, f := range old {
			if info, err := os.Stat(f); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
				os.Remove(f)
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("relsync-%d", os.Getpid()))
		build := exec.Command("go", "build", "-o", path, "./cmd/relsync")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ./cmd/relsync: %v\n%s", err, out)
		}
		return path, nil
	})
}
