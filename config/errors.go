package config

import (
	"errors"
	"strconv"
)

// Sentinel errors; every error from this package wraps one of them.
var (
	// ErrSyntax: the file is not valid YAML.
	ErrSyntax = errors.New("config: syntax error")
	// ErrUnknownKey: a key the schema does not have (often a typo).
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrInvalidValue: a value of the wrong type or out of bounds.
	ErrInvalidValue = errors.New("config: invalid value")
	// ErrMissing: a required value is absent.
	ErrMissing = errors.New("config: missing value")
)

// Error is one problem in a configuration, located by file, line and key
// path. It unwraps to one of the sentinel errors.
type Error struct {
	File string // may be empty for a configuration built in code
	Line int    // 0 when unknown
	Path string // key path such as "clients[0].redirect_uris[1]"; may be empty
	Msg  string
	Err  error // sentinel
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if s != "" {
		s += ": "
	}
	if e.Path != "" {
		s += e.Path + ": "
	}
	return s + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }
