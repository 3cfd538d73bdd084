// Package prommetrics exports the adaptor's events as Prometheus metrics.
// It implements the adaptor's hooks (adaptor.Hook), so only programs that
// import it link the Prometheus client; the adaptor itself does not.
//
//	m := prommetrics.New()
//	prometheus.MustRegister(m)
//	opener, err := registry.MustGetBuilder("rmq").Build(adaptor.WithHooks(m))
//
// Metrics, labelled by backend and channel:
//
//	mqwal_append_total{result="ok"|"error"}  appends the application made
//	mqwal_append_bytes_total                  bytes of acknowledged appends
//	mqwal_append_latency_seconds              histogram of acknowledged appends
//	mqwal_scan_messages_total                 messages scanners delivered
//	mqwal_scan_bytes_total                    their bytes
//	mqwal_scan_cached_messages_total          of those, from the write-ahead cache
//	mqwal_scanner_reconnects_total            driver scanner reopen attempts
//	mqwal_scanners                            open scanners (gauge)
//	mqwal_truncate_total{result}              truncations
//
// A channel's series exist while a WAL of it is open on an opener using
// the Metrics, and are removed when the last one closes, so a process that
// opens and closes many channels does not accumulate series (a channel
// opened again starts from zero, which Prometheus reads as a counter
// reset). One Metrics may serve many openers.
package prommetrics
