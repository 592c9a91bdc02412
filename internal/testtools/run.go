package testtools

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

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
