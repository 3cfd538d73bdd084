package pulsar

// ProducerOptions are a writer's producer's options, for the benchmarks'
// raw baseline.
var ProducerOptions = producerOptions
