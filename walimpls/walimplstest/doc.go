// Package walimplstest is the conformance harness every walimpls driver
// must pass. A driver's test calls Run with a Harness that builds openers on
// the backend under test (an embedded broker, a container, or a live
// cluster); each rule of the walimpls contract is a named subtest.
//
//	func TestConformance(t *testing.T) {
//		walimplstest.Run(t, walimplstest.Harness{
//			NewOpener: func() (walimpls.OpenerImpls, error) { return mydriver.NewBuilder(cfg).Build() },
//		})
//	}
//
// Cases are written against the small reporter interface R, which
// *testing.T satisfies, so the same cases run outside `go test` too
// (`walctl conformance` uses RunCase).
//
// The history checker (History) records every append attempt and every
// delivered message of concurrent appenders and scanners, then reads each
// channel's whole log again through a fresh opener, and names each lost,
// duplicated, reordered, phantom, corrupted or misplaced message, each
// message read although its Append returned a "not stored" error (any error
// that does not wrap walimpls.ErrOutcomeUnknown), and readers of one channel
// that disagree. Each Problem names the channel, the message and its ID,
// what its Append returned, and the rule broken. A driver that can inject
// faults (restart its broker, drop connections) lists them in
// Harness.Faults and the checker runs once under each.
//
// Checker is the same check done as the history happens, for runs too long
// to record (walctl verify): Done and CheckedReader.Deliver return each
// problem as soon as it is proven, IDs going backwards across a restart
// included, and a message is forgotten once every reader has it. History
// replays its record through a Checker.
//
// A check that nothing more arrives (a quiet period) fails when the scanner
// ends instead: a scanner that stopped may have stopped at a message it
// owed.
//
// ReadN is the read-back step for a driver's own tests beside the harness
// (recovery, interop, faults): exactly n messages, then optionally quiet.
//
// The harness is itself tested: brokendrivers_test.go wraps the memory
// driver in drivers that each break one rule (and in two that break none,
// one of them fencing) and asserts, by case name, that the harness fails
// every broken one in the case named for its rule and in the history cases
// wherever they can see that kind of breakage.
package walimplstest
