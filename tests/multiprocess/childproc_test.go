// Package multiprocess holds relsync's tests that need other processes or connections on the
// same file: engram processes racing Up, a process killed mid-install, a process of another user,
// another writer holding the lock, and the host's own connections.
package multiprocess

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Tests that need real OS processes (several engram processes on one file, a SIGKILL) re-execute
// this test binary: the child runs TestChildProcess with RELSYNC_CHILD_ROLE naming what it does,
// gets its parameters as environment variables and reports a JSON result in a file.

const (
	childRoleEnv   = "RELSYNC_CHILD_ROLE"
	childDBEnv     = "RELSYNC_CHILD_DB"     // the database file
	childGoEnv     = "RELSYNC_CHILD_GO"     // a barrier: the child waits until this file exists
	childReadyEnv  = "RELSYNC_CHILD_READY"  // the child creates this file when it is ready to go
	childResultEnv = "RELSYNC_CHILD_RESULT" // the child writes its JSON result here
)

// childRoles maps a role to what the child process runs; the test files that start children
// register their roles.
var childRoles = map[string]func() (any, error){}

func registerChild(role string, fn func() (any, error)) bool {
	childRoles[role] = fn
	return true
}

func TestChildProcess(t *testing.T) {
	role := os.Getenv(childRoleEnv)
	if role == "" {
		t.Skip("helper process: runs only when another test starts it")
	}
	fn, ok := childRoles[role]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		os.Exit(2)
	}
	result, err := fn()
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", role, err)
		os.Exit(1)
	}
	if path := os.Getenv(childResultEnv); path != "" {
		b, err := json.Marshal(result)
		if err == nil {
			err = writeFileAtomic(path, b)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "child %s: result: %v\n", role, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// child is a running helper process.
type child struct {
	cmd            *exec.Cmd
	role           string
	ready, result  string
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error // Wait's error, once done is closed
}

// startChild starts the test binary as a child in role on db; dir holds its ready and result files,
// named after id. env adds role-specific variables ("KEY=value").
func startChild(t *testing.T, role, db, dir, id string, env ...string) *child {
	t.Helper()
	c := &child{
		role:   role,
		ready:  filepath.Join(dir, "ready."+id),
		result: filepath.Join(dir, "result."+id),
		done:   make(chan struct{}),
	}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.timeout=10m")
	c.cmd.Env = append(os.Environ(),
		childRoleEnv+"="+role, childDBEnv+"="+db,
		childGoEnv+"="+filepath.Join(dir, "go"),
		childReadyEnv+"="+c.ready, childResultEnv+"="+c.result)
	c.cmd.Env = append(c.cmd.Env, env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start child %s: %v", role, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait waits for the child to exit and fails the test if it did not exit 0.
func (c *child) wait(t *testing.T) {
	t.Helper()
	<-c.done
	if c.err != nil {
		t.Fatalf("child %s: %v\n%s%s", c.role, c.err, c.stdout.String(), c.stderr.String())
	}
}

// decode reads the child's JSON result into v.
func (c *child) decode(t *testing.T, v any) {
	t.Helper()
	b, err := os.ReadFile(c.result)
	if err != nil {
		t.Fatalf("child %s: no result: %v\n%s", c.role, err, c.stderr.String())
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("child %s: result %q: %v", c.role, b, err)
	}
}

// waitReady waits until every child has created its ready file, or one of them exited.
func waitReady(t *testing.T, children []*child) {
	t.Helper()
	for _, c := range children {
		for !exists(c.ready) {
			select {
			case <-c.done:
				t.Fatalf("child %s exited before it was ready: %v\n%s", c.role, c.err, c.stderr.String())
			case <-time.After(time.Millisecond):
			}
		}
	}
}

// release creates the barrier file that the children in dir wait for.
func release(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// childReady tells the parent that this child is ready (its database open), then waits for the
// barrier, so that all children start their work at the same moment.
func childReady() error {
	if err := os.WriteFile(os.Getenv(childReadyEnv), nil, 0o644); err != nil {
		return err
	}
	for goFile := os.Getenv(childGoEnv); !exists(goFile); {
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// envInt reads a count from the environment: how many rounds or trials to run beyond the default.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
