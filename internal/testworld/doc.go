// Package testworld is what relsync's tests share: engram databases on real files, replayed as an
// engram version writes them (World), the journal checks every test makes, and the checkout's own
// files. It is imported only by tests; it calls relsync's public API, so the tests in relsync's
// root directory that use it are external tests (package relsync_test).
package testworld
