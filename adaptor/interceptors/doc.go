// Package interceptors holds the hooks the adaptor runs around every Append
// and every scanned message, and the built-in ones: term stamping with
// read-side fencing (Fence), a size limit (SizeLimit), logging of failed
// appends through log/slog (Logging) and flow control (FlowLimiter). It
// imports only the standard library and mqwal's own packages: metrics are
// adaptor hooks (adaptor.WithHooks; package adaptor/prommetrics for
// Prometheus), not interceptors.
//
// An interceptor is built once per WAL from a Builder, so it can keep per-WAL
// state; Builders themselves are shared by every WAL of an opener and may
// keep cross-WAL state. Each interceptor implements any of
// AppendInterceptor, OpenInterceptor and ReadInterceptor.
package interceptors
