//go:build race

package adaptor_test

// raceBuild: the race detector allows at most 8128 live goroutines, so the
// tests with thousands of scanners size down.
const raceBuild = true
