package testtools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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

var goose built

// GooseCLI builds the goose CLI at the pinned version once per test process, the way a user
// installs it, and returns the binary. Each process replaces the one binary atomically.
func GooseCLI(t *testing.T) string {
	t.Helper()
	return goose.get(t, func(root, dir string) (string, error) {
		bin, err := os.MkdirTemp(dir, "gobin-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(bin)
		module, version, tags, err := gooseBuild(root)
		if err != nil {
			return "", err
		}
		cmd := exec.Command("go", "install", "-tags="+tags, module)
		cmd.Env = append(os.Environ(), "GOBIN="+bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go install %s: %v\n%s", module, err, out)
		}
		path := filepath.Join(dir, "goose-"+version)
		return path, os.Rename(filepath.Join(bin, "goose"), path)
	})
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
