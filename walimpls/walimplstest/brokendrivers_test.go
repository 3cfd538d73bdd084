package walimplstest_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// breakage is the one rule a broken driver violates.
type breakage string

const (
	intact            breakage = "intact"
	intactFencing     breakage = "fences correctly"
	dropsMessage      breakage = "drops a message"
	duplicatesMessage breakage = "duplicates a message"
	reorders          breakage = "reorders two messages"
	ignoresStartAfter breakage = "ignores StartAfter"
	skipsTruncated    breakage = "silently skips a truncated range"
	leaksScanner      breakage = "leaks its scanner on Close"
	readOnlyAppends   breakage = "lets a ReadOnly WAL append"
	storesRetryable   breakage = "stores every 7th append but reports ErrUnavailable"
	phantom           breakage = "stores a message nobody appended"
	wrongChannel      breakage = "stores some appends on another channel too"
	fencingBypass     breakage = "declares Fencing but lets a lower term write"
	fencedButStored   breakage = "reports ErrFenced but stores the lower term's append"
	acceptsOversize   breakage = "accepts a message over MaxMessageSize"
	losesOnRestart    breakage = "loses its data when the opener is rebuilt"
	endsAtBacklog     breakage = "ends a scanner at the channel's end instead of tailing"
	misreportsClaims  breakage = "lists a claim for every open, not each term's first"
	statStale         breakage = "reports the message before the newest as Stat's Last"
	claimsExclusive   breakage = "declares ExclusiveLog though other clients write to its channels"
)

// faultName is the self-test's one fault: it ends every running scanner
// with a retryable error, fails the next appends as not stored, and stores
// one more while reporting its outcome unknown, so the history checker sees
// all three outcomes from an intact driver.
const faultName = "flaky"

const historyUnderFault = "HistoryUnderFault/" + faultName

// expectation is how the harness must fail a broken driver: every case
// listed fails, and the log of the first (the case named for the breakage)
// contains logHas. The history cases are listed wherever they can see the
// breakage.
type expectation struct {
	fail   []string
	logHas string
}

var expectations = map[breakage]expectation{
	intact:            {},
	intactFencing:     {},
	dropsMessage:      {[]string{"RoundTrip", "ConcurrentAppenders", historyUnderFault}, "after 3 of 4"},
	duplicatesMessage: {[]string{"IDOrder", "ConcurrentAppenders", historyUnderFault}, "has ID"},
	reorders:          {[]string{"IDOrder", "ConcurrentAppenders", historyUnderFault}, "has ID"},
	ignoresStartAfter: {[]string{"DeliverPolicies", historyUnderFault}, "StartAfter"},
	skipsTruncated:    {[]string{"Truncate"}, "ErrOutOfRange"},
	leaksScanner:      {[]string{"CloseSemantics"}, "did not end"},
	readOnlyAppends:   {[]string{"ReadOnly"}, "read-only"},
	storesRetryable:   {[]string{historyUnderFault, "ConcurrentAppenders"}, "stored-despite-error"},
	phantom:           {[]string{"ConcurrentAppenders", historyUnderFault}, "phantom"},
	wrongChannel:      {[]string{"ChannelIsolation", "ConcurrentAppenders", historyUnderFault}, "unexpected message"},
	fencingBypass:     {[]string{"Fencing"}, "Fencing promises"},
	fencedButStored:   {[]string{"Fencing"}, "stored-despite-error"},
	acceptsOversize:   {[]string{"MessageTooLarge"}, "message too large"},
	losesOnRestart:    {[]string{"Persistence"}, "after 0 of 5"},
	endsAtBacklog:     {[]string{"ChannelIsolation", "ConcurrentAppenders", historyUnderFault}, "scanner ended"},
	misreportsClaims:  {[]string{"Fencing"}, "Claims through"},
	statStale:         {[]string{"Stat"}, "Last"},
	claimsExclusive:   {[]string{"ForeignRecords"}, "ExclusiveLog"},
}

// TestHarnessFailsBrokenDrivers proves the harness can fail: each driver
// below breaks one rule, and each must fail the cases its expectation names,
// the first with a log saying why. The intact ones must pass every case.
func TestHarnessFailsBrokenDrivers(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for b, want := range expectations {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			be := newBackend(b, release)
			h := walimplstest.Harness{
				NewOpener:     be.newOpener,
				Faults:        []walimplstest.Fault{{Name: faultName, Inject: be.injectFault}},
				ForeignAppend: walimplstest.AppendThrough(be.bareOpener),
				Timeout:       time.Second,
				QuietPeriod:   50 * time.Millisecond,
			}
			logs := map[string]string{}
			var failed []string
			for _, c := range walimplstest.Cases(h) {
				res := walimplstest.RunCase(c, h)
				if !res.Passed {
					failed = append(failed, c.Name)
					logs[c.Name] = strings.Join(res.Log, "; ")
					t.Logf("%s fails %s: %s", b, c.Name, logs[c.Name])
				}
			}
			if len(want.fail) == 0 && len(failed) > 0 {
				t.Errorf("the intact wrapper fails %v: the self-test itself is broken", failed)
			}
			for _, name := range want.fail {
				if !slices.Contains(failed, name) {
					t.Errorf("a driver that %s passes case %s (failed: %v)", b, name, failed)
				}
			}
			if len(want.fail) > 0 && !strings.Contains(logs[want.fail[0]], want.logHas) {
				t.Errorf("a driver that %s fails %s, but its log does not say %q", b, want.fail[0], want.logHas)
			}
		})
	}
}

// The expectations name only cases the harness has, so a renamed case
// cannot turn an expectation into one that never fails.
func TestExpectationsNameRealCases(t *testing.T) {
	h := walimplstest.Harness{
		NewOpener:     func() (walimpls.OpenerImpls, error) { return nil, nil },
		Faults:        []walimplstest.Fault{{Name: faultName}},
		ForeignAppend: func(context.Context, string, []byte) error { return nil },
	}
	var names []string
	for _, c := range walimplstest.Cases(h) {
		names = append(names, c.Name)
	}
	for b, want := range expectations {
		for _, name := range want.fail {
			if !slices.Contains(names, name) {
				t.Errorf("%s: expects case %s, which the harness does not have", b, name)
			}
		}
	}
}
