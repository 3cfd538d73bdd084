package rmq

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// diskUsage is the space dir's files take on disk (allocated blocks).
func diskUsage(t *testing.T, dir string) (used int64, files map[string]int64) {
	t.Helper()
	files = map[string]int64{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		files[strings.TrimPrefix(path, dir)] = st.Blocks * 512
		used += st.Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used, files
}

// TestDiskUseAfterWrites: after appending 10 MiB and closing, the data
// directory takes at most twice the data (Pebble preallocated ~70 MiB per
// log file and kept up to five old ones for reuse: 350 MB for 10 MiB).
func TestDiskUseAfterWrites(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir, WithSyncMode(SyncNone))
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	payload := make([]byte, 1<<10)
	const n = 10 << 10
	for i := range n {
		payload[0], payload[1] = byte(i), byte(i>>8)
		if _, err := w.Append(context.Background(), message.NewMutableMessage(payload, nil)); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	used, files := diskUsage(t, dir)
	if live := int64(n << 10); used > 2*live {
		t.Fatalf("%d bytes on disk for %d bytes of data (%.1fx): %v", used, live, float64(used)/float64(live), files)
	}
	t.Logf("%d bytes on disk for %d bytes of data", used, n<<10)
}
