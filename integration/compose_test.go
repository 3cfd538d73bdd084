package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docker-compose.yml is the one place that names broker images and their
// settings: `make up` starts its services, and container mode starts the
// same images with the same environment, so the two modes test the same
// brokers and a version bump is one edit.

// composePath is docker-compose.yml as seen from this package's directory,
// where `go test` runs its tests.
var composePath = filepath.Join("..", "docker-compose.yml")

// composeFile is the part of docker-compose.yml the suite reads.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image         string            `yaml:"image"`
	Profiles      []string          `yaml:"profiles"`
	Command       []string          `yaml:"command"`
	Environment   map[string]string `yaml:"environment"`
	Ports         []string          `yaml:"ports"`
	ContainerName string            `yaml:"container_name"`
	Healthcheck   *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

var compose = sync.OnceValues(func() (*composeFile, error) { return readCompose(composePath) })

func readCompose(path string) (*composeFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// service returns the docker-compose.yml service called name.
func service(t testing.TB, name string) composeService {
	t.Helper()
	f, err := compose()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := f.Services[name]
	if !ok {
		t.Fatalf("%s has no service %q", composePath, name)
	}
	return s
}

// serviceFromEnv returns the service named by the environment variable env,
// or def when it is unset: how a CI job points container mode at the broker
// version of its matrix entry.
func serviceFromEnv(t testing.TB, env, def string) (string, composeService) {
	t.Helper()
	name := def
	if v := os.Getenv(env); v != "" {
		name = v
	}
	return name, service(t, name)
}

// clusterNodes maps each Kafka node ID of the kafka-cluster profile to its
// container name, which the cluster test stops and starts.
func clusterNodes(f *composeFile) (map[int32]string, error) {
	nodes := map[int32]string{}
	for name, s := range f.Services {
		if len(s.Profiles) != 1 || s.Profiles[0] != clusterProfile {
			continue
		}
		id, err := strconv.ParseInt(s.Environment["KAFKA_NODE_ID"], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("service %s: KAFKA_NODE_ID: %w", name, err)
		}
		if s.ContainerName == "" {
			return nil, fmt.Errorf("service %s: no container_name to stop it by", name)
		}
		if other, dup := nodes[int32(id)]; dup {
			return nil, fmt.Errorf("services %s and %s share KAFKA_NODE_ID %d", other, s.ContainerName, id)
		}
		nodes[int32(id)] = s.ContainerName
	}
	return nodes, nil
}
