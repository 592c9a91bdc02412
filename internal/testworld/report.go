package testworld

import "github.com/relsync/relsync"

// TotalMissing is how many eligible relations lack their journal row, over every project.
func TotalMissing(r relsync.Report) int {
	n := 0
	for _, p := range r.Projects {
		n += p.Missing
	}
	return n
}
