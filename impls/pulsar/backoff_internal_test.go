package pulsar

import "testing"

// The reconnect backoff doubles from 100 ms to 60 s with up to 20 % jitter,
// as the client's default does, and starts over after Reset.
func TestReconnectBackoff(t *testing.T) {
	b := newReconnectBackoff()
	want := minReconnect
	for range 12 {
		d := b.Next()
		if d < want || d > want+want/5 {
			t.Fatalf("Next() = %v, want %v plus up to 20 %%", d, want)
		}
		want = min(2*want, maxReconnect)
	}
	if !b.IsMaxBackoffReached() {
		t.Fatal("max backoff not reached after 12 doublings")
	}
	b.Reset()
	if d := b.Next(); d > minReconnect+minReconnect/5 || b.IsMaxBackoffReached() {
		t.Fatalf("after Reset: %v", d)
	}
}
