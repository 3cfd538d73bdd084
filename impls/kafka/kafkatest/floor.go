package kafkatest

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnvProtocolFloor, when set to a release named in ProtocolFloors (e.g.
// "4.0"), makes every cluster Start creates refuse the request versions
// that release removed, as WithProtocolFloor does. It lets a whole test
// suite (or `walctl dev-broker kafka`) run against that floor unchanged:
//
//	KAFKATEST_PROTOCOL_FLOOR=4.0 go test ./impls/kafka/...
const EnvProtocolFloor = "KAFKATEST_PROTOCOL_FLOOR"

// ProtocolFloors maps a Kafka release to the lowest version of each
// request it still accepts; versions below are refused. Requests not
// listed keep every version kfake serves.
//
// "4.0" is Apache Kafka 4.0 (KIP-896), read from its request schemas
// ("Version(s) ... were removed in Apache Kafka 4.0"): the versions Kafka
// 3.x marked deprecated, except Produce, of which only v0-v2 went (Kafka
// 4.0 still lists Produce from v0 in ApiVersions, KAFKA-18659, but refuses
// them), and Metadata, JoinGroup, FindCoordinator and SaslHandshake, which
// 4.0 kept whole.
var ProtocolFloors = map[string]map[kmsg.Key]int16{
	"4.0": {
		kmsg.Produce:                 3,
		kmsg.Fetch:                   4,
		kmsg.ListOffsets:             1,
		kmsg.OffsetCommit:            2,
		kmsg.OffsetFetch:             1,
		kmsg.CreateTopics:            2,
		kmsg.DeleteTopics:            1,
		kmsg.OffsetForLeaderEpoch:    2,
		kmsg.WriteTxnMarkers:         1,
		kmsg.DescribeACLs:            1,
		kmsg.CreateACLs:              1,
		kmsg.DeleteACLs:              1,
		kmsg.DescribeConfigs:         1,
		kmsg.AlterReplicaLogDirs:     1,
		kmsg.DescribeLogDirs:         1,
		kmsg.CreateDelegationToken:   1,
		kmsg.RenewDelegationToken:    1,
		kmsg.ExpireDelegationToken:   1,
		kmsg.DescribeDelegationToken: 1,
		kmsg.DeleteGroups:            1,
	},
}

// WithProtocolFloor makes the brokers refuse every request whose version
// the named release (a key of ProtocolFloors) no longer accepts: the
// broker closes the connection, as Kafka 4.0 does for a removed version,
// and the cluster records it (Refused). ApiVersions still advertises
// kfake's own ranges. Start fails for an unknown release.
func WithProtocolFloor(release string) Option {
	return optionFunc(func(c *config) { c.floor = release })
}

// protocolFloor returns the floor table of release ("" is none).
func protocolFloor(release string) (map[kmsg.Key]int16, error) {
	if release == "" {
		return nil, nil
	}
	f, ok := ProtocolFloors[release]
	if !ok {
		known := make([]string, 0, len(ProtocolFloors))
		for k := range ProtocolFloors {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("kafkatest: protocol floor %q: known releases are %s", release, strings.Join(known, ", "))
	}
	return f, nil
}

// floorFromEnv is EnvProtocolFloor's value.
func floorFromEnv() string { return strings.TrimSpace(os.Getenv(EnvProtocolFloor)) }

// installFloor adds the control that refuses requests below the floor.
func (c *Cluster) installFloor(kc *kfake.Cluster, floor map[kmsg.Key]int16) {
	kc.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		key := kmsg.Key(req.Key())
		min, ok := floor[key]
		if !ok || req.GetVersion() >= min {
			return nil, nil, false
		}
		kc.KeepControl()
		what := fmt.Sprintf("%s v%d", kmsg.NameForKey(req.Key()), req.GetVersion())
		c.mu.Lock()
		c.refused = append(c.refused, what)
		c.mu.Unlock()
		return nil, fmt.Errorf("kafkatest: %s is below the protocol floor (v%d)", what, min), true
	})
}

// Refused lists the requests refused for being below the protocol floor
// (WithProtocolFloor, EnvProtocolFloor), oldest first, as "Name vN".
func (c *Cluster) Refused() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.refused)
}

// ProtocolFloor is the release whose floor the cluster enforces, "" if none.
func (c *Cluster) ProtocolFloor() string { return c.cfg.floor }
