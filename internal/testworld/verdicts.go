package testworld

import "github.com/relsync/relsync/internal/engram"

// SemVerdict is what JudgeBySemantic records: engram/system, a Go string reason, a confidence.
func SemVerdict(relation string) engram.Verdict {
	return engram.Verdict{Relation: relation, Reason: Ptr(""), Confidence: Ptr(0.7), Actor: "engram", Kind: "system", Model: Ptr("embed-1")}
}

func Ptr[T any](v T) *T { return &v }

// Verdict is a typical agent verdict.
func Verdict() engram.Verdict {
	return engram.Verdict{Relation: "related", Reason: Ptr("same topic"), Evidence: Ptr("both say X"),
		Confidence: Ptr(0.8), Actor: "claude", Kind: "agent", Model: Ptr("opus")}
}
