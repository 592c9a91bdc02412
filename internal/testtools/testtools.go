// Package testtools runs the real tools for relsync's tests: the goose CLI at the version go.mod
// pins, the sqlite3 shell and the scripts in scripts/. A test that needs a missing tool skips,
// saying why, unless RELSYNC_REQUIRE_TOOLS=1 (CI), where it fails: the same rule in every package.
package testtools

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relsync/relsync/internal/testworld"
)

// gooseBuild is how the tests build the goose CLI, from the one home of each part: the version
// go.mod requires (as scripts/goose.sh reads it) and the build tags scripts/goose.sh uses.
func gooseBuild(root string) (module, version, tags string, err error) {
	list := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/pressly/goose/v3")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		return "", "", "", fmt.Errorf("goose's version from go.mod: %v", err)
	}
	version = strings.TrimSpace(string(out))
	script, err := os.ReadFile(filepath.Join(root, "scripts", "goose.sh"))
	if err != nil {
		return "", "", "", err
	}
	m := regexp.MustCompile(`(?m)^readonly goose_tags='([^']*)'$`).FindSubmatch(script)
	if version == "" || m == nil {
		return "", "", "", fmt.Errorf("goose's version (%q, go.mod) or build tags (scripts/goose.sh) not found", version)
	}
	return "github.com/pressly/goose/v3/cmd/goose@" + version, version, string(m[1]), nil
}

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

var (
	gooseOnce sync.Once
	goosePath string
	gooseErr  error
)

// GooseCLI builds the goose CLI at the pinned version once per test process, the way a user
// installs it, and returns the binary. Each process replaces the one binary atomically.
func GooseCLI(t *testing.T) string {
	t.Helper()
	NeedTool(t, "go")
	root := testworld.Root(t)
	gooseOnce.Do(func() {
		dir, err := toolDir()
		if err != nil {
			gooseErr = err
			return
		}
		bin, err := os.MkdirTemp(dir, "gobin-")
		if err != nil {
			gooseErr = err
			return
		}
		defer os.RemoveAll(bin)
		module, version, tags, err := gooseBuild(root)
		if err != nil {
			gooseErr = err
			return
		}
		cmd := exec.Command("go", "install", "-tags="+tags, module)
		cmd.Env = append(os.Environ(), "GOBIN="+bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			gooseErr = fmt.Errorf("go install %s: %v\n%s", module, err, out)
			return
		}
		goosePath = filepath.Join(dir, "goose-"+version)
		gooseErr = os.Rename(filepath.Join(bin, "goose"), goosePath)
	})
	if gooseErr != nil {
		t.Fatal(gooseErr)
	}
	return goosePath
}

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

// Result is what a finished process said.
type Result struct {
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs a program to the end with stdin from the file in (none if ""), env added to the
// test's own environment.
func Run(t *testing.T, env []string, in string, name string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return Result{exit.ExitCode(), stdout.String(), stderr.String()}
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return Result{0, stdout.String(), stderr.String()}
}

// GooseScript runs scripts/goose.sh with the binaries built for the tests.
func GooseScript(t *testing.T, args ...string) Result {
	t.Helper()
	return GooseScriptEnv(t, nil, args...)
}

func GooseScriptEnv(t *testing.T, env []string, args ...string) Result {
	t.Helper()
	NeedTool(t, "bash")
	env = append([]string{"RELSYNC_GOOSE=" + GooseCLI(t), "RELSYNC_CMD=" + RelsyncCmd(t)}, env...)
	return Run(t, env, "", "bash", append([]string{testworld.File(t, "scripts/goose.sh")}, args...)...)
}

// VerifySQL runs the README's `sqlite3 -readonly <db> < scripts/verify.sql` in the real shell.
func VerifySQL(t *testing.T, db string) Result {
	t.Helper()
	return Run(t, nil, testworld.File(t, "scripts/verify.sql"), NeedTool(t, "sqlite3"), "-readonly", db)
}

// ExpectOutput fails unless the Result has the exit code and its output every wanted line part.
func ExpectOutput(t *testing.T, what string, r Result, code int, want ...string) {
	t.Helper()
	if (code == 0) != (r.Code == 0) || (code > 0 && r.Code != code) {
		t.Errorf("%s: exit %d, want %d\n%v", what, r.Code, code, r)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.Stdout+r.Stderr, w) {
			t.Errorf("%s: output lacks %q\n%v", what, w, r)
		}
	}
}
