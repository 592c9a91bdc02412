package testtools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/relsync/relsync/internal/testworld"
)

var (
	relsyncOnce sync.Once
	relsyncPath string
	relsyncErr  error
)

// RelsyncCmd builds this checkout's cmd/relsync once per test process, for scripts/goose.sh to use
// instead of building it on every run (TestDemo runs the scripts with their own builds). The
// binary is this process's own (another checkout may be under test at the same time); binaries
// older than a day are left-overs of finished runs.
func RelsyncCmd(t *testing.T) string {
	t.Helper()
	NeedTool(t, "go")
	root := testworld.Root(t)
	relsyncOnce.Do(func() {
		dir, err := toolDir()
		if err != nil {
			relsyncErr = err
			return
		}
		old, _ := filepath.Glob(filepath.Join(dir, "relsync-*"))
		for _, f := range old {
			if info, err := os.Stat(f); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
				os.Remove(f)
			}
		}
		relsyncPath = filepath.Join(dir, fmt.Sprintf("relsync-%d", os.Getpid()))
		build := exec.Command("go", "build", "-o", relsyncPath, "./cmd/relsync")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			relsyncErr = fmt.Errorf("go build ./cmd/relsync: %v\n%s", err, out)
		}
	})
	if relsyncErr != nil {
		t.Fatal(relsyncErr)
	}
	return relsyncPath
}
