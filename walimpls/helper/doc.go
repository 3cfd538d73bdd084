// Package helper holds the pieces every walimpls driver needs and that are
// easy to get subtly wrong: a scanner pump (goroutine, channel, Error, Done
// and Close, each done once and in the right order), lifetime guards for
// openers and WALs (closed and read-only checks, closing children), and an
// int64 MessageID with its text codec. impls/memory shows each in use.
package helper
