package rmq

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// The block cache is small by default (DefaultBlockCacheSize says why) and
// WithPebbleOptions still sets it: read back from the OPTIONS file Pebble
// writes when it opens.
func TestBlockCacheSize(t *testing.T) {
	for name, c := range map[string]struct {
		opts []Option
		want string
	}{
		"default":  {nil, "cache_size=1048576\n"},
		"override": {[]Option{WithPebbleOptions(func(o *pebble.Options) { o.CacheSize = 64 << 20 })}, "cache_size=67108864\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			newOpener(t, dir, c.opts...).Close()
			files, err := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no OPTIONS file in %s: %v", dir, err)
			}
			b, err := os.ReadFile(files[len(files)-1])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.want) {
				t.Fatalf("OPTIONS file has no %q:\n%s", c.want, b)
			}
		})
	}
}
