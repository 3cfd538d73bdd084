package integration

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// These tests need no broker: they hold docker-compose.yml, the CI matrix
// and .ci/integration to one list of profiles, and the brokers to the
// settings mqwal's guarantees rest on. They run everywhere, so a broken
// profile is caught here rather than in a CI job nobody can rerun locally.

// composeProfiles maps each profile of docker-compose.yml to its services,
// failing t on any service that a profile run could not use.
func composeProfiles(t *testing.T) map[string][]string {
	t.Helper()
	f, err := compose()
	if err != nil {
		t.Fatal(err)
	}
	profiles := map[string][]string{}
	for name, s := range f.Services {
		if len(s.Profiles) != 1 {
			t.Errorf("service %s: profiles %v, want exactly one (a profile is one broker version)", name, s.Profiles)
			continue
		}
		if i := strings.LastIndexByte(s.Image, ':'); i < 0 || strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("service %s: image %q: pin a version tag", name, s.Image)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s: no healthcheck, so `docker compose up --wait` would not wait for the broker, nor fail when it cannot start", name)
		}
		profiles[s.Profiles[0]] = append(profiles[s.Profiles[0]], name)
	}
	return profiles
}

func TestProfilesMatchCIMatrixAndScript(t *testing.T) {
	profiles := slices.Sorted(maps.Keys(composeProfiles(t)))

	raw, err := os.ReadFile(filepath.Join("..", ".github", "workflows", "integration.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Strategy struct {
				Matrix struct {
					Profile []string `yaml:"profile"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	var matrix []string
	for _, j := range wf.Jobs {
		matrix = append(matrix, j.Strategy.Matrix.Profile...)
	}
	if got := slices.Sorted(slices.Values(matrix)); !slices.Equal(got, profiles) {
		t.Errorf("integration.yml matrix profiles %v, docker-compose.yml profiles %v", got, profiles)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", filepath.Join("..", ".ci", "integration"), "profiles").Output()
	if err != nil {
		t.Fatalf(".ci/integration profiles: %v", err)
	}
	if got := slices.Sorted(slices.Values(strings.Fields(string(out)))); !slices.Equal(got, profiles) {
		t.Errorf(".ci/integration profiles %v, docker-compose.yml profiles %v", got, profiles)
	}
}

// TestReadmeNamesComposeVersions: the README's Real brokers table names, for
// each profile, the version tags of the images the profile runs.
func TestReadmeNamesComposeVersions(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "| `"); ok {
			if name, _, ok := strings.Cut(rest, "`"); ok {
				rows[name] = line
			}
		}
	}
	f, err := compose()
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range f.Services {
		if len(s.Profiles) != 1 {
			continue // composeProfiles reports it
		}
		row, ok := rows[s.Profiles[0]]
		if !ok {
			t.Errorf("README.md has no Real brokers row for profile %s", s.Profiles[0])
			continue
		}
		tag := s.Image[strings.LastIndexByte(s.Image, ':')+1:]
		if !strings.Contains(row, strings.TrimPrefix(tag, "v")) {
			t.Errorf("README.md row of profile %s does not name version %s (service %s, image %s): %s", s.Profiles[0], tag, name, s.Image, strings.TrimSpace(row))
		}
	}
}

// TestComposeBrokerSettings checks the broker settings the drivers' claims
// rest on, in every service, and the services container mode starts by
// default.
func TestComposeBrokerSettings(t *testing.T) {
	composeProfiles(t)
	f, err := compose()
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range f.Services {
		switch {
		case strings.HasPrefix(s.Image, "apache/kafka:"):
			// The driver creates each topic with one partition; a metadata
			// request must never create one with the broker's defaults.
			if s.Environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] != "false" {
				t.Errorf("service %s: KAFKA_AUTO_CREATE_TOPICS_ENABLE=%q, want false", name, s.Environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"])
			}
		case strings.HasPrefix(s.Image, "apachepulsar/pulsar:"):
			// Resends after a lost receipt are harmless only with dedup on.
			if s.Environment["PULSAR_PREFIX_brokerDeduplicationEnabled"] != "true" {
				t.Errorf("service %s: broker deduplication is not on", name)
			}
		case strings.Contains(s.Image, "redpanda"):
			// dev-container mode acknowledges acks=all before fsync.
			if slices.ContainsFunc(s.Command, func(a string) bool { return strings.Contains(a, "dev-container") }) {
				t.Errorf("service %s: started in dev-container mode: %v", name, s.Command)
			}
		default:
			t.Errorf("service %s: image %q is not a broker this test knows", name, s.Image)
		}
	}
	for _, name := range []string{"kafka3", "pulsar3", "redpanda"} {
		if _, ok := f.Services[name]; !ok {
			t.Errorf("service %s (a container-mode default) is missing", name)
		}
	}

	nodes, err := clusterNodes(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int32]string{1: "mqwal-kafka-1", 2: "mqwal-kafka-2", 3: "mqwal-kafka-3"}; !maps.Equal(nodes, want) {
		t.Errorf("kafka-cluster nodes %v, want %v", nodes, want)
	}
	for name, s := range f.Services {
		if s.Profiles[0] != clusterProfile {
			continue
		}
		// One node down must leave every acked record on two others.
		for k, v := range map[string]string{"KAFKA_DEFAULT_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2", "KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE": "false"} {
			if s.Environment[k] != v {
				t.Errorf("service %s: %s=%q, want %s", name, k, s.Environment[k], v)
			}
		}
	}
}

func TestParseContainers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "none", want: []string{}},
		{in: "kafka", want: []string{"kafka"}},
		{in: " kafka , pulsar", want: []string{"kafka", "pulsar"}},
		{in: "redpanda,kafka,pulsar", want: []string{"kafka", "pulsar", "redpanda"}},
		{in: "kafak", err: true},
		{in: "none,kafka", err: true},
		{in: "kafka,", err: true},
	} {
		got, err := parseContainers(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("parseContainers(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseContainers(%q): %v", tc.in, err)
			continue
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, tc.want) {
			t.Errorf("parseContainers(%q) = %v, want %v", tc.in, keys, tc.want)
		}
	}
}

func TestLeaderFirst(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     partition
		order []int32
		next  int32
	}{
		{"leader first", partition{Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}, []int32{2, 1, 3}, 2},
		{"leader last", partition{Leader: 3, Replicas: []int32{1, 2, 3}, ISR: []int32{3, 1, 2}}, []int32{1, 2, 3}, 1},
		{"skips a replica out of sync", partition{Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 3}}, []int32{3, 1, 2}, 3},
		{"only the leader in sync", partition{Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1}}, nil, -1},
		{"one replica", partition{Leader: 1, Replicas: []int32{1}, ISR: []int32{1}}, nil, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order, next, err := leaderFirst(tc.p)
			if tc.order == nil {
				if err == nil {
					t.Fatalf("leaderFirst = %v, %d; want an error", order, next)
				}
				return
			}
			if err != nil || next != tc.next || !slices.Equal(order, tc.order) {
				t.Fatalf("leaderFirst = %v, %d, %v; want %v, %d", order, next, err, tc.order, tc.next)
			}
			if !slices.Equal(slices.Sorted(slices.Values(order)), slices.Sorted(slices.Values(tc.p.Replicas))) {
				t.Fatalf("order %v is not a permutation of the replicas %v: the reassignment would move data", order, tc.p.Replicas)
			}
		})
	}
}

func TestBusiestLeader(t *testing.T) {
	parts := func(leaders ...int32) []partition {
		var ps []partition
		for _, l := range leaders {
			ps = append(ps, partition{Leader: l})
		}
		return ps
	}
	for _, tc := range []struct {
		leaders []int32
		want    int32
	}{
		{[]int32{2, 3, 3, 1}, 3},
		{[]int32{3, 2, 3, 2}, 2}, // a tie goes to the lower ID
		{[]int32{-1, -1, 1}, 1},  // leaderless partitions do not count
		{[]int32{-1}, -1},
		{nil, -1},
	} {
		got, err := busiestLeader(parts(tc.leaders...))
		if got != tc.want || (err != nil) != (tc.want < 0) {
			t.Errorf("busiestLeader(leaders %v) = %d, %v; want %d", tc.leaders, got, err, tc.want)
		}
	}
}
