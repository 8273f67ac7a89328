// Package strictjson decodes JSON the way JOSE needs it read: member names
// are matched exactly, and input that two readers could read differently
// is refused.
//
// encoding/json matches member names to struct fields without regard to
// case and keeps the last of duplicate members, so {"TYP":"dpop+jwt"}
// fills a field tagged "typ", and {"htu":"a","htu":"b"} means "b" to Go
// and possibly "a" to the next reader. JSON member names are
// case-sensitive (RFC 8259 §4; RFC 7515 §4: "the Header Parameter names
// ... MUST be unique"), so Unmarshal:
//
//   - matches a member to a struct field only when the names are equal
//     byte for byte, and refuses a member whose name differs from a
//     field's only in case (ErrCaseVariant) instead of ignoring it;
//   - refuses duplicate member names in every object of the document, at
//     every nesting level, including members it does not decode
//     (ErrDuplicateName);
//   - refuses trailing data after the value, invalid UTF-8 and unpaired
//     UTF-16 surrogate escapes (RFC 8259 §8.1, §8.2) (ErrSyntax).
//
// Whatever Unmarshal accepts, encoding/json.Unmarshal accepts too and
// decodes to the same values (FuzzDifferential); Unmarshal only refuses
// more. Types that implement json.Unmarshaler or encoding.TextUnmarshaler
// receive their raw value, as with encoding/json, after the whole document
// has passed the duplicate check. Struct fields with the ",string" option
// and embedded struct fields are not supported (ErrUnsupported): none of
// the JOSE structures Ward reads needs them.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors; every error Unmarshal and Check return wraps one of them.
var (
	ErrSyntax        = errors.New("strictjson: not valid JSON")
	ErrDuplicateName = errors.New("strictjson: duplicate member name")
	ErrCaseVariant   = errors.New("strictjson: member name differs from a known name only in case")
	ErrType          = errors.New("strictjson: value of the wrong type")
	ErrUnsupported   = errors.New("strictjson: unsupported Go type")
)

// maxDepth bounds nesting (encoding/json allows 10000).
const maxDepth = 1000

// Unmarshal decodes the single JSON value in data into v, which must be a
// non-nil pointer, under the rules of the package comment.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: Unmarshal needs a non-nil pointer, not %T", ErrUnsupported, v)
	}
	d := decodeState{data: data}
	return d.document(rv.Elem())
}

// Check reports whether data is one JSON value with no duplicate member
// names in any object, valid UTF-8 and no trailing data. It decodes
// nothing.
func Check(data []byte) error {
	d := decodeState{data: data}
	return d.document(reflect.Value{})
}

// DuplicateError names the member that appeared twice.
type DuplicateError struct{ Name string }

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%v: %q", ErrDuplicateName, clip(e.Name))
}
func (e *DuplicateError) Unwrap() error { return ErrDuplicateName }

// CaseVariantError names a member whose name differs from Field only in
// case.
type CaseVariantError struct{ Name, Field string }

func (e *CaseVariantError) Error() string {
	return fmt.Sprintf("%v: %q (the member is %q)", ErrCaseVariant, clip(e.Name), e.Field)
}
func (e *CaseVariantError) Unwrap() error { return ErrCaseVariant }

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

type decodeState struct {
	data  []byte
	off   int
	depth int
}

func (d *decodeState) syntax(what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, what, d.off)
}

func typeError(what string, t reflect.Type) error {
	return fmt.Errorf("%w: cannot put %s into %s", ErrType, what, t)
}

func (d *decodeState) document(v reflect.Value) error {
	d.ws()
	if err := d.value(v); err != nil {
		return err
	}
	d.ws()
	if d.off != len(d.data) {
		return d.syntax("trailing data after the value")
	}
	return nil
}

func (d *decodeState) ws() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

func (d *decodeState) peek() byte {
	if d.off < len(d.data) {
		return d.data[d.off]
	}
	return 0
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value decodes one value into v; an invalid v only checks it.
func (d *decodeState) value(v reflect.Value) error {
	if d.off >= len(d.data) {
		return d.syntax("unexpected end of input")
	}
	if v.IsValid() {
		var done bool
		var err error
		if v, done, err = d.indirect(v); done || err != nil {
			return err
		}
	}
	switch c := d.data[d.off]; {
	case c == '{':
		return d.object(v)
	case c == '[':
		return d.array(v)
	case c == '"':
		return d.stringValue(v)
	case c == 't':
		return d.literal("true", v)
	case c == 'f':
		return d.literal("false", v)
	case c == 'n':
		return d.literal("null", v)
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number(v)
	}
	return d.syntax("unexpected character")
}

// indirect follows pointers as encoding/json does: null sets a pointer to
// nil; a type with UnmarshalJSON (or UnmarshalText) gets the raw value.
func (d *decodeState) indirect(v reflect.Value) (reflect.Value, bool, error) {
	null := d.data[d.off] == 'n'
	if v.Kind() != reflect.Pointer && v.Type().Name() != "" && v.CanAddr() {
		if done, err := d.unmarshaler(v.Addr()); done {
			return v, true, err
		}
	}
	for v.Kind() == reflect.Pointer {
		if null {
			v.SetZero()
			return v, true, d.literal("null", reflect.Value{})
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if done, err := d.unmarshaler(v); done {
			return v, true, err
		}
		v = v.Elem()
	}
	return v, false, nil
}

// unmarshaler hands the raw value to p's UnmarshalJSON, or for a type
// that only has UnmarshalText to encoding/json, which calls it. The raw
// value is checked first, so it holds no duplicate names.
func (d *decodeState) unmarshaler(p reflect.Value) (bool, error) {
	t := p.Type()
	if t.NumMethod() == 0 {
		return false, nil
	}
	isU, isT := t.Implements(unmarshalerType), t.Implements(textUnmarshalerType)
	if !isU && !isT {
		return false, nil
	}
	start := d.off
	if err := d.value(reflect.Value{}); err != nil {
		return true, err
	}
	raw := d.data[start:d.off]
	if isU {
		return true, p.Interface().(json.Unmarshaler).UnmarshalJSON(raw)
	}
	return true, json.Unmarshal(raw, p.Interface())
}

// field is a struct field's exact JSON name.
type field struct {
	name  string
	index int
}

var fieldCache sync.Map // reflect.Type → []field or error

func fieldsOf(t reflect.Type) ([]field, error) {
	if c, ok := fieldCache.Load(t); ok {
		if err, isErr := c.(error); isErr {
			return nil, err
		}
		return c.([]field), nil
	}
	var fs []field
	var err error
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous {
			err = fmt.Errorf("%w: embedded field %s in %s", ErrUnsupported, sf.Name, t)
			break
		}
		if !sf.IsExported() {
			continue
		}
		if strings.Contains(","+opts+",", ",string,") {
			err = fmt.Errorf("%w: option string on %s.%s", ErrUnsupported, t, sf.Name)
			break
		}
		if name == "" {
			name = sf.Name
		}
		fs = append(fs, field{name: name, index: i})
	}
	if err != nil {
		fieldCache.Store(t, err)
		return nil, err
	}
	fieldCache.Store(t, fs)
	return fs, nil
}

// names records an object's member names to refuse duplicates.
type names struct {
	arr  [16][]byte
	list [][]byte
	set  map[string]struct{}
}

func (n *names) add(name []byte) bool {
	if n.set != nil {
		if _, dup := n.set[string(name)]; dup {
			return false
		}
		n.set[string(name)] = struct{}{}
		return true
	}
	if n.list == nil {
		n.list = n.arr[:0]
	}
	for _, m := range n.list {
		if bytes.Equal(m, name) {
			return false
		}
	}
	if len(n.list) < len(n.arr) {
		n.list = append(n.list, name)
		return true
	}
	n.set = make(map[string]struct{}, 2*len(n.list))
	for _, m := range n.list {
		n.set[string(m)] = struct{}{}
	}
	n.set[string(name)] = struct{}{}
	return true
}

// object decodes an object into a struct, a map with string keys or an
// empty interface; an invalid v only checks it.
func (d *decodeState) object(v reflect.Value) error {
	var fs []field
	var generic map[string]any
	if v.IsValid() {
		switch v.Kind() {
		case reflect.Struct:
			var err error
			if fs, err = fieldsOf(v.Type()); err != nil {
				return err
			}
		case reflect.Map:
			if v.Type().Key().Kind() != reflect.String {
				return fmt.Errorf("%w: map key type %s", ErrUnsupported, v.Type().Key())
			}
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			}
		case reflect.Interface:
			if v.NumMethod() != 0 {
				return typeError("an object", v.Type())
			}
			generic = map[string]any{}
		default:
			return typeError("an object", v.Type())
		}
	}
	if d.depth++; d.depth > maxDepth {
		return d.syntax("nesting too deep")
	}
	d.off++ // {
	var seen names
	d.ws()
	if d.peek() == '}' {
		d.off++
		d.depth--
		return d.setGeneric(v, generic)
	}
	for {
		if d.peek() != '"' {
			return d.syntax("expected a member name")
		}
		name, err := d.readString()
		if err != nil {
			return err
		}
		if !seen.add(name) {
			return &DuplicateError{Name: string(name)}
		}
		d.ws()
		if d.peek() != ':' {
			return d.syntax("expected ':' after a member name")
		}
		d.off++
		d.ws()
		if err := d.member(v, fs, generic, name); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.off++
			d.ws()
			continue
		case '}':
			d.off++
			d.depth--
			return d.setGeneric(v, generic)
		}
		return d.syntax("expected ',' or '}' in an object")
	}
}

func (d *decodeState) setGeneric(v reflect.Value, generic map[string]any) error {
	if generic != nil {
		v.Set(reflect.ValueOf(generic))
	}
	return nil
}

// member decodes one member's value into its place in v.
func (d *decodeState) member(v reflect.Value, fs []field, generic map[string]any, name []byte) error {
	switch {
	case !v.IsValid():
		return d.value(v)
	case generic != nil:
		var x any
		if err := d.value(reflect.ValueOf(&x).Elem()); err != nil {
			return err
		}
		generic[string(name)] = x
		return nil
	case v.Kind() == reflect.Map:
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.value(elem); err != nil {
			return err
		}
		v.SetMapIndex(reflect.ValueOf(string(name)).Convert(v.Type().Key()), elem)
		return nil
	}
	for _, f := range fs {
		if f.name == string(name) {
			return d.value(v.Field(f.index))
		}
	}
	for _, f := range fs {
		if bytes.EqualFold([]byte(f.name), name) {
			return &CaseVariantError{Name: string(name), Field: f.name}
		}
	}
	return d.value(reflect.Value{})
}

// array decodes an array into a slice or an empty interface; an invalid v
// only checks it.
func (d *decodeState) array(v reflect.Value) error {
	var generic []any
	isGeneric := false
	if v.IsValid() {
		switch {
		case v.Kind() == reflect.Slice:
			v.SetLen(0)
		case v.Kind() == reflect.Interface && v.NumMethod() == 0:
			isGeneric, generic = true, []any{}
		default:
			return typeError("an array", v.Type())
		}
	}
	if d.depth++; d.depth > maxDepth {
		return d.syntax("nesting too deep")
	}
	d.off++ // [
	d.ws()
	if d.peek() == ']' {
		d.off++
	} else {
		for {
			var err error
			switch {
			case isGeneric:
				var x any
				err = d.value(reflect.ValueOf(&x).Elem())
				generic = append(generic, x)
			case v.IsValid():
				elem := reflect.New(v.Type().Elem()).Elem()
				err = d.value(elem)
				v.Set(reflect.Append(v, elem))
			default:
				err = d.value(v)
			}
			if err != nil {
				return err
			}
			d.ws()
			if d.peek() == ',' {
				d.off++
				d.ws()
				continue
			}
			if d.peek() == ']' {
				d.off++
				break
			}
			return d.syntax("expected ',' or ']' in an array")
		}
	}
	d.depth--
	switch {
	case isGeneric:
		v.Set(reflect.ValueOf(generic))
	case v.IsValid() && v.IsNil():
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	}
	return nil
}

// readString reads the string at d.off and returns its unescaped bytes;
// without escapes they alias d.data.
func (d *decodeState) readString() ([]byte, error) {
	start := d.off + 1
	ascii := true
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			s := d.data[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, d.syntax("invalid UTF-8 in a string")
			}
			d.off = i + 1
			return s, nil
		case c == '\\':
			return d.readEscaped(start, i)
		case c < 0x20:
			d.off = i
			return nil, d.syntax("control character in a string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, d.syntax("unterminated string")
}

// readEscaped finishes a string that has an escape at i.
func (d *decodeState) readEscaped(start, i int) ([]byte, error) {
	buf := make([]byte, 0, len(d.data)-start)
	buf = append(buf, d.data[start:i]...)
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return nil, d.syntax("invalid UTF-8 in a string")
			}
			d.off = i + 1
			return buf, nil
		case c < 0x20:
			d.off = i
			return nil, d.syntax("control character in a string")
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(d.data) {
			break
		}
		e := d.data[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, n := d.unicodeEscape(i)
			if r < 0 {
				d.off = i
				return nil, d.syntax("bad \\u escape or unpaired surrogate")
			}
			buf = utf8.AppendRune(buf, r)
			i += n
		default:
			d.off = i
			return nil, d.syntax("bad escape")
		}
	}
	d.off = len(d.data)
	return nil, d.syntax("unterminated string")
}

// unicodeEscape reads XXXX (and a following \uXXXX low surrogate) at i;
// r < 0 when malformed or unpaired (RFC 8259 §8.2).
func (d *decodeState) unicodeEscape(i int) (r rune, n int) {
	r = hex4(d.data, i)
	switch {
	case r < 0:
		return -1, 0
	case utf16.IsSurrogate(r):
		if r >= 0xdc00 || i+10 > len(d.data) || d.data[i+4] != '\\' || d.data[i+5] != 'u' {
			return -1, 0
		}
		lo := hex4(d.data, i+6)
		if lo < 0xdc00 || lo > 0xdfff {
			return -1, 0
		}
		return utf16.DecodeRune(r, lo), 10
	}
	return r, 4
}

func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// stringValue decodes a string into a string kind or an empty interface;
// other kinds go to encoding/json (a []byte is base64).
func (d *decodeState) stringValue(v reflect.Value) error {
	start := d.off
	s, err := d.readString()
	if err != nil || !v.IsValid() {
		return err
	}
	switch {
	case v.Kind() == reflect.String && v.Type() != numberType:
		v.SetString(string(s))
	case v.Kind() == reflect.Interface && v.NumMethod() == 0:
		v.Set(reflect.ValueOf(string(s)))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		return json.Unmarshal(d.data[start:d.off], v.Addr().Interface())
	default:
		return typeError("a string", v.Type())
	}
	return nil
}

var numberType = reflect.TypeFor[json.Number]()

// literal reads true, false or null.
func (d *decodeState) literal(lit string, v reflect.Value) error {
	if !bytes.HasPrefix(d.data[d.off:], []byte(lit)) {
		return d.syntax("bad literal")
	}
	d.off += len(lit)
	if !v.IsValid() {
		return nil
	}
	if lit == "null" {
		switch v.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
			v.SetZero()
		}
		return nil // like encoding/json, null leaves other kinds alone
	}
	switch {
	case v.Kind() == reflect.Bool:
		v.SetBool(lit == "true")
	case v.Kind() == reflect.Interface && v.NumMethod() == 0:
		v.Set(reflect.ValueOf(lit == "true"))
	default:
		return typeError("a boolean", v.Type())
	}
	return nil
}

// number reads a number (RFC 8259 §6) and stores it.
func (d *decodeState) number(v reflect.Value) error {
	start := d.off
	b := d.data
	i := d.off
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return d.syntax("bad number")
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			return d.syntax("bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if j := digits(b, i); j > i {
			i = j
		} else {
			return d.syntax("bad number")
		}
	}
	d.off = i
	if !v.IsValid() {
		return nil
	}
	return storeNumber(string(b[start:i]), v)
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func storeNumber(s string, v reflect.Value) error {
	switch v.Kind() {
	case reflect.Interface:
		if v.NumMethod() != 0 {
			break
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return typeError("number "+s, reflect.TypeFor[float64]())
		}
		v.Set(reflect.ValueOf(f))
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil || v.OverflowFloat(f) {
			break
		}
		v.SetFloat(f)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(n) {
			break
		}
		v.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v.OverflowUint(n) {
			break
		}
		v.SetUint(n)
		return nil
	case reflect.String:
		if v.Type() == numberType {
			v.SetString(s)
			return nil
		}
	}
	return typeError("number "+s, v.Type())
}
