// Package sqlitecode reads SQLite's result codes from the driver's errors: relsync chooses its
// errors and retries by them, and its tests recognise the same codes by the same functions.
package sqlitecode

import "errors"

// coder is what modernc's errors expose: SQLite's extended result code.
type coder interface{ Code() int }

// Of returns err's extended SQLite result code, 0 when err carries none.
func Of(err error) int {
	var c coder
	if errors.As(err, &c) {
		return c.Code()
	}
	return 0
}

// IsBusy reports SQLITE_BUSY and SQLITE_LOCKED with their extended codes.
func IsBusy(err error) bool {
	code := Of(err) & 0xff
	return code == 5 || code == 6
}
