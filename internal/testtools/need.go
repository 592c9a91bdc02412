package testtools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
