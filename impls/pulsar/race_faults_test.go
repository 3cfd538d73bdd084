package pulsar_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFaultsWithoutRaceDetector runs the fault cases of the harness and the
// driver's reconnect tests in a plain build when this one has the race
// detector: pulsar-client-go
// v0.19.0 races with itself on reconnect (see harness), so the race build
// cannot host them, but `go test -race ./impls/pulsar/` still shows them.
func TestFaultsWithoutRaceDetector(t *testing.T) {
	if !raceDetector {
		t.Skip("plain build: the fault cases run in TestConformance")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build the plain test binary: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "test", "-count=1",
		"-run", `^(TestConformance|TestScannerAcrossReconnects|TestZombieWriterAfterHandOver|TestUntruncatedDataSurvivesRollover|TestIdleHigherTermKeepsLowerTermOut|TestForeignMessagesAcrossReconnects|TestManyChannels|TestParkedScannerAcrossBrokerRestart)$`, ".")
	var flags []string
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if f != "-race" && f != "--race" && !strings.HasPrefix(f, "-race=") {
			flags = append(flags, f)
		}
	}
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.Join(flags, " ")) // keep GOFLAGS, less -race
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("plain-build fault run failed: %v\n%s", err, out)
	}
	t.Logf("plain-build fault run: %s", out)
}
