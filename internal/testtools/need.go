package testtools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/relsync/relsync/internal/testworld"
)

// NeedTool returns the path of a program the test needs. Where it is missing the test skips,
// saying why, unless RELSYNC_REQUIRE_TOOLS=1 (CI), where it fails.
func NeedTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("RELSYNC_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (RELSYNC_REQUIRE_TOOLS=1): %v", name, err)
		}
		t.Skipf("SKIP: %s not found (%v); this test runs the real %s", name, err, name)
	}
	return path
}

// toolDir is where the tests keep the binaries they build: one directory per user, so that runs
// do not leave a copy each behind.
func toolDir() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("relsync-test-tools-%d", os.Getuid()))
	return dir, os.MkdirAll(dir, 0o755)
}

// built is a binary the tests build once per test process.
type built struct {
	once sync.Once
	path string
	err  error
}

// get returns the binary, which build builds on the first call (given the checkout's root and
// toolDir) and returns the path of. Without the go command the test skips, as NeedTool says; a
// failed build fails every test that needs the binary.
func (b *built) get(t *testing.T, build func(root, dir string) (string, error)) string {
	t.Helper()
	NeedTool(t, "go")
	root := testworld.Root(t)
	b.once.Do(func() {
		dir, err := toolDir()
		if err != nil {
			b.err = err
			return
		}
		b.path, b.err = build(root, dir)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}
