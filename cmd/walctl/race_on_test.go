//go:build race

package main

// raceEnabled builds the walctl binary the CLI tests drive with -race too,
// so it reuses the race-built packages and checks the binary as well.
const raceEnabled = true
