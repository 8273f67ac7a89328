// Package loglimit bounds the log lines of refusals: a token bucket per
// reason, so that an attack repeating one refusal (a password guessed, a
// proof replayed) cannot flood the log, while a rare refusal of another
// reason is still written. What a bucket drops is counted and reported
// with the next line of that reason that is written, so an operator sees
// that lines were dropped and how many (docs/OBSERVABILITY.md).
package loglimit
