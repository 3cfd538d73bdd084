//go:build race

package pulsar_test

// raceDetector: pulsar-client-go v0.19.0 has data races on its reconnect
// paths (see faultsUnderRace), so the race build leaves the faults out.
const raceDetector = true
