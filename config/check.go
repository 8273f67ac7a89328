package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxSyntaxRetries bounds how many broken lines Check blanks out to keep
// reading a file past its YAML syntax errors.
const maxSyntaxRetries = 20

// Check reads data (the file named file) as Load does, but goes on past
// each phase's errors so that one run reports every problem: YAML syntax
// (each broken line is reported, then blanked out, and the rest read
// again), unknown keys and ill-typed values, the environment (lookup;
// os.LookupEnv in production) and validation. The returned error joins
// *Error values sorted by line, those without a line last; nil means the
// file would load. It does not read files named by the configuration.
//
// After a syntax error the blanked lines are missing from what is
// validated, so a "required" error without a line of its own could be a
// consequence of the syntax error: those are left out, and the syntax
// errors say so.
func Check(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	root, syntax := parseRepairing(file, data)
	c := Default()
	c.file, c.lines = file, map[string]int{}
	var errs []error
	errs = append(errs, syntax...)
	if root != nil {
		d := &decoder{file: file, lines: c.lines}
		d.decode(root, reflect.ValueOf(c).Elem(), "")
		errs = append(errs, d.errs...)
	}
	if err := c.ApplyEnv(lookup); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	semantic := unjoin(c.Validate())
	if len(syntax) > 0 {
		semantic = slices.DeleteFunc(semantic, func(err error) bool {
			var e *Error
			return errors.As(err, &e) && e.Line == 0
		})
	}
	errs = append(errs, semantic...)
	sortByLine(errs)
	return c, errors.Join(errs...)
}

// parseRepairing parses data as one YAML document. On a syntax error it
// records the error, blanks the broken line and parses again, up to
// maxSyntaxRetries times, so the keys after a typo are still checked. It
// returns the last tree parsed (nil if none) and the syntax errors.
func parseRepairing(file string, data []byte) (*yaml.Node, []error) {
	lines := strings.SplitAfter(string(data), "\n")
	var errs []error
	for range maxSyntaxRetries {
		root, err := parseYAML(lines)
		if err == nil {
			return root, errs
		}
		e := syntaxError(file, err)
		e.Msg += tabHint(lines, e.Line)
		errs = append(errs, e)
		skip := culprit(lines, e.Line)
		if skip == 0 {
			return nil, errs
		}
		// Located where the removal helped, which is more often the
		// broken line than the one yaml.v3 names.
		e.Line = skip
		e.Msg += "; the rest of the file was checked without this line"
		lines[skip-1] = "\n"
	}
	return nil, errs
}

// parseYAML parses lines as one document; an empty document is a nil
// tree without error.
func parseYAML(lines []string) (*yaml.Node, error) {
	var root yaml.Node
	err := yaml.NewDecoder(strings.NewReader(strings.Join(lines, ""))).Decode(&root)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &root, nil
}

// culprit finds the line to blank after a syntax error reported at line
// (yaml.v3 often reports the line where the broken construct began, one
// or two before the character it stumbled on): the first of the next few
// non-blank lines whose removal lets the parse succeed or fail later. 0:
// none does.
func culprit(lines []string, line int) int {
	if line < 1 {
		return 0
	}
	for cand, tried := line, 0; cand <= len(lines) && tried < 4; cand++ {
		if strings.TrimSpace(lines[cand-1]) == "" {
			continue
		}
		tried++
		saved := lines[cand-1]
		lines[cand-1] = "\n"
		_, err := parseYAML(lines)
		lines[cand-1] = saved
		if err == nil || syntaxError("", err).Line > line {
			return cand
		}
	}
	return 0
}

// syntaxError turns a yaml.v3 error ("yaml: line 3: ...") into an *Error
// located at that line.
func syntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, after
			}
		}
	}
	return &Error{File: file, Line: line, Msg: msg, Err: ErrSyntax}
}

// tabHint explains a syntax error on or just before a line indented with
// a tab: YAML forbids tabs in indentation (YAML 1.2 §6.1), and yaml.v3
// says only "found character that cannot start any token".
func tabHint(lines []string, line int) string {
	for _, l := range []int{line, line - 1, line + 1} {
		if l >= 1 && l <= len(lines) && hasTabIndent(lines[l-1]) {
			return fmt.Sprintf(" (line %d is indented with a tab: YAML allows only spaces for indentation)", l)
		}
	}
	return ""
}

func hasTabIndent(s string) bool {
	indent := s[:len(s)-len(strings.TrimLeft(s, " \t"))]
	return strings.Contains(indent, "\t")
}

// unjoin splits an errors.Join result back into its errors.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// sortByLine orders errors by their line, those without one (0, or not an
// *Error) last, keeping the phases' order among equals.
func sortByLine(errs []error) {
	key := func(err error) int {
		var e *Error
		if errors.As(err, &e) && e.Line > 0 {
			return e.Line
		}
		return int(^uint(0) >> 1)
	}
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(key(a), key(b)) })
}

// Problems splits an error of Check, Load, Decode or Validate into its
// problems, one per line of output.
func Problems(err error) []error { return unjoin(err) }
