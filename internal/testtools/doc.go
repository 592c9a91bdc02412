// Package testtools runs the real tools for relsync's tests: the goose CLI at the version go.mod
// pins, the sqlite3 shell and the scripts in scripts/. A test that needs a missing tool skips,
// saying why, unless RELSYNC_REQUIRE_TOOLS=1 (CI), where it fails: the same rule in every package.
package testtools
