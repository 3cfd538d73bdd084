package pulsar_test

import (
	"os"
	"runtime/pprof"
	"testing"
)

func TestTmpOpenProfile(t *testing.T) {
	f, _ := os.Create("/tmp/open.cpu")
	pprof.StartCPUProfile(f)
	r := measureScale(t, scaleDriver, 6000, false, 0)
	pprof.StopCPUProfile()
	t.Logf("%+v", r)
}
