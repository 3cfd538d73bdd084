// Package interceptors holds the hooks the adaptor runs around every Append
// and every scanned message, and the built-in ones: term stamping with
// read-side fencing (Fence), a size limit (SizeLimit), metrics (Metrics,
// a prometheus.Collector with a Snapshot API), structured logging (Logging)
// and flow control (FlowLimiter).
//
// An interceptor is built once per WAL from a Builder, so it can keep per-WAL
// state; Builders themselves are shared by every WAL of an opener and may
// keep cross-WAL state (Metrics does). Each interceptor implements any of
// AppendInterceptor, OpenInterceptor and ReadInterceptor.
package interceptors
