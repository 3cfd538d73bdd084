package pulsar

import (
	"time"

	"github.com/mqwal/mqwal/walimpls"
)

// ProducerOptions are a writer's producer's options, for the benchmarks'
// raw baseline.
var ProducerOptions = producerOptions

// WithParkRecheck sets how often a parked scanner asks for the topic's
// last position.
func WithParkRecheck(d time.Duration) Option {
	return optionFunc(func(c *config) { c.parkRecheck = d })
}

// WithBeforePark runs f in a parking scanner after its Reader is closed and
// before its wake-up Consumer exists.
func WithBeforePark(f func()) Option { return optionFunc(func(c *config) { c.beforePark = f }) }

// Parks is how many scanners of w's opener have parked.
func Parks(w walimpls.ROWALImpls) int64 { return w.(*wal).o.parks.Load() }
