// Package benchkit measures what mqwal's benchmarks report beside their
// raw baselines: the wall time of a round of concurrent operations (for
// interleaved pairs), the settled heap and goroutine count (for cost per
// channel), and the process's CPU time (for idle cost). It is shared by
// the adaptor's and the drivers' benchmarks so that every backend measures
// the same way.
package benchkit
