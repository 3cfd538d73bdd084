package rmq

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The crash test re-executes this binary as the appender it kills.
	if os.Getenv(envCrashChild) != "" {
		os.Exit(crashChild())
	}
	if os.Getenv(envFatalChild) != "" {
		os.Exit(fatalChild())
	}
	if os.Getenv(envFailingLogChild) != "" {
		os.Exit(failingLogChild())
	}
	if os.Getenv(envRecoveryChild) != "" {
		os.Exit(recoveryChild())
	}
	goleak.VerifyTestMain(m)
}
