package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Environment variables read by ApplyEnv.
const (
	EnvStoreDSN         = "WARD_STORE_DSN"
	EnvKeyEncryptionKey = "WARD_KEY_ENCRYPTION_KEY"
	EnvDPoPNonceSecret  = "WARD_DPOP_NONCE_SECRET"
	EnvPairwiseSalt     = "WARD_OIDC_PAIRWISE_SALT"
)

// maxNodes bounds the work of decoding (YAML aliases can multiply nodes).
const maxNodes = 100000

// Load reads the file at path over the production defaults, applies the
// environment overrides and validates the result. The error joins every
// problem found, each naming the file, line and key.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := Default()
	if err := c.Decode(path, data); err != nil {
		return nil, err
	}
	if err := c.ApplyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Decode reads YAML data over c (whose values are the defaults); file
// names the source in errors. It rejects unknown keys, duplicate keys and
// ill-typed values, reporting all of them; it does not validate.
func (c *Config) Decode(file string, data []byte) error {
	c.file = file
	c.lines = map[string]int{}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: defaults
		}
		e := syntaxError(file, err)
		e.Msg += tabHint(strings.SplitAfter(string(data), "\n"), e.Line)
		return e
	}
	d := &decoder{file: file, lines: c.lines}
	d.decode(&root, reflect.ValueOf(c).Elem(), "")
	return errors.Join(d.errs...)
}

type decoder struct {
	file  string
	lines map[string]int
	errs  []error
	nodes int
}

func (d *decoder) fail(n *yaml.Node, path string, sentinel error, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...), Err: sentinel})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
)

// decode sets v from n, recording each key path's line; errors name the
// path and line.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, path, ErrInvalidValue, "document too large (more than %d nodes)", maxNodes)
		}
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			d.decode(n.Content[0], v, path)
		}
		return
	case yaml.AliasNode:
		d.decode(n.Alias, v, path)
		return
	}
	if path != "" {
		if _, ok := d.lines[path]; !ok {
			d.lines[path] = n.Line
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // key present without value: keep the default
	}
	t := v.Type()
	switch {
	case t == durationType:
		d.decodeDuration(n, v, path)
	case reflect.PointerTo(t).Implements(textType):
		d.decodeText(n, v, path)
	default:
		d.decodeKind(n, v, path)
	}
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, ErrInvalidValue, "expected a duration such as 10m or 30d")
		return
	}
	dur, err := parseDuration(n.Value)
	if err != nil {
		d.fail(n, path, ErrInvalidValue, "%q is not a duration (use units ms, s, m, h or d, e.g. 10m)", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

// decodeText decodes a scalar into an encoding.TextUnmarshaler (sizes,
// counts, CIDR prefixes).
func (d *decoder) decodeText(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, ErrInvalidValue, "expected a single value")
		return
	}
	if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
		if v.Type() == prefixType {
			d.fail(n, path, ErrInvalidValue, "%q is not a CIDR network such as 10.0.0.0/8", n.Value)
		} else {
			d.fail(n, path, ErrInvalidValue, "%q: %v", n.Value, err)
		}
	}
}

// decodeKind decodes by the kind of v: string, bool, list or struct.
func (d *decoder) decodeKind(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	switch t.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, ErrInvalidValue, "expected a string, not a %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, ErrInvalidValue, "%s is not a boolean (true or false)", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, ErrInvalidValue, "expected a list, not %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Pointer:
		// An optional block (clients[].token_exchange): present means set.
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	default:
		panic("config: unsupported field type " + t.String())
	}
}

// structField is a struct field a YAML key decodes into; json marks a
// string field (yaml:"name,json") that takes a mapping as JSON text.
type structField struct {
	index int
	json  bool
}

// structFields maps t's YAML keys to its fields, and lists the keys for
// suggestions.
func structFields(t reflect.Type) (map[string]structField, []string) {
	fields := map[string]structField{}
	var names []string
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = structField{i, opts == "json"}
		names = append(names, name)
	}
	return fields, names
}

// decodeStruct decodes a mapping key by key: unknown keys (with a
// suggestion), duplicate keys and merge keys are handled here.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, ErrInvalidValue, "expected a mapping of keys to values, not %s", describe(n))
		return
	}
	fields, names := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, ErrInvalidValue, "keys must be strings")
			continue
		}
		if key == "<<" { // merge key: decode the merged mapping(s) here
			d.decodeMerge(val, v, path)
			continue
		}
		f, ok := fields[key]
		if !ok {
			d.unknownKey(k, path, names)
			continue
		}
		p := join(path, key)
		if seen[key] {
			d.fail(k, p, ErrInvalidValue, "duplicate key")
			continue
		}
		seen[key] = true
		if f.json && val.Kind == yaml.MappingNode {
			d.decodeJSON(val, v.Field(f.index), p)
			continue
		}
		d.decode(val, v.Field(f.index), p)
	}
}

// unknownKey reports key k, suggesting the closest of names.
func (d *decoder) unknownKey(k *yaml.Node, path string, names []string) {
	msg := fmt.Sprintf("unknown key %q", k.Value)
	if path != "" {
		msg += " in " + path
	}
	if s := suggest(k.Value, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: k.Line, Msg: msg, Err: ErrUnknownKey})
}

// decodeJSON sets the string v to the JSON text of mapping n.
func (d *decoder) decodeJSON(n *yaml.Node, v reflect.Value, path string) {
	d.lines[path] = n.Line
	var m any
	if err := n.Decode(&m); err != nil {
		d.fail(n, path, ErrInvalidValue, "%v", err)
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		d.fail(n, path, ErrInvalidValue, "cannot be written as JSON: %v", err)
		return
	}
	v.SetString(string(b))
}

func (d *decoder) decodeMerge(n *yaml.Node, v reflect.Value, path string) {
	// Each step counts as a node: a list of aliases to lists, or a list
	// holding itself, would otherwise multiply work or recurse unbounded.
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, path, ErrInvalidValue, "document too large (more than %d nodes)", maxNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode {
		for _, m := range n.Content {
			d.decodeMerge(m, v, path)
		}
		return
	}
	d.decode(n, v, path)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "a " + kindName(n)
}

// parseDuration accepts Go durations plus a whole number of days ("30d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 32)
		if err != nil || n < 0 || n > 100*365 {
			return 0, errors.New("bad days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// ApplyEnv applies the environment overrides, the only place the
// configuration reads the environment (lookup is os.LookupEnv in
// production):
//
//   - WARD_STORE_DSN replaces store.dsn;
//   - WARD_KEY_ENCRYPTION_KEY sets Keys.KEK (wins over keys.kek_file);
//   - WARD_DPOP_NONCE_SECRET sets DPoP.Nonce.Secret (wins over
//     dpop.nonce.secret_file);
//   - WARD_OIDC_PAIRWISE_SALT sets OIDC.PairwiseSalt (wins over
//     oidc.pairwise_salt_file);
//   - WARD_REDIS_URL (redis[s]://[user:password@]host:port[/db])
//     replaces redis.addr, username, db and sets tls.enabled for rediss;
//     WARD_REDIS_PASSWORD then sets the Redis password;
//     WARD_REDIS_SENTINEL_PASSWORD the sentinels' password;
//   - each client's secret_env and each user's password_env is read into
//     Client.Secret and User.Password, each webhook's secret_env and
//     previous_secret_env into Webhook.Secret and PreviousSecret; an
//     unset variable is an error.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	if v, ok := lookup(EnvStoreDSN); ok && v != "" {
		c.Store.DSN = v
	}
	if v, ok := lookup(EnvKeyEncryptionKey); ok && v != "" {
		c.Keys.KEK = v
	}
	if v, ok := lookup(EnvDPoPNonceSecret); ok && v != "" {
		c.DPoP.Nonce.Secret = v
	}
	if v, ok := lookup(EnvPairwiseSalt); ok && v != "" {
		c.OIDC.PairwiseSalt = v
	}
	var errs []error
	if v, ok := lookup(EnvRedisURL); ok && v != "" {
		if err := c.Redis.applyURL(v); err != nil {
			// The URL may hold a password: never quote it back.
			errs = append(errs, &Error{Msg: EnvRedisURL + ": " + err.Error(), Err: ErrInvalidValue})
		}
	}
	if v, ok := lookup(EnvRedisPassword); ok && v != "" {
		c.Redis.Password = v
	}
	if v, ok := lookup(EnvRedisSentinelPassword); ok && v != "" {
		c.Redis.Sentinel.Password = v
	}
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.SecretEnv == "" {
			continue
		}
		p := fmt.Sprintf("clients[%d].secret_env", i)
		v, ok := lookup(cl.SecretEnv)
		if (!ok || v == "") && c.storeOnly {
			continue
		}
		if !ok || v == "" {
			errs = append(errs, c.errorf(p, ErrMissing, "environment variable %s is not set", cl.SecretEnv))
			continue
		}
		cl.Secret = v
	}
	errs = append(errs, c.applyWebhookEnv(lookup)...)
	for i := range c.Users {
		u := &c.Users[i]
		if u.PasswordEnv == "" {
			continue
		}
		p := fmt.Sprintf("users[%d].password_env", i)
		v, ok := lookup(u.PasswordEnv)
		if (!ok || v == "") && c.storeOnly {
			continue
		}
		if !ok || v == "" {
			errs = append(errs, c.errorf(p, ErrMissing, "environment variable %s is not set", u.PasswordEnv))
			continue
		}
		u.Password = v
	}
	return errors.Join(errs...)
}

// errorf builds an Error for path, located at the line of path or of its
// nearest ancestor present in the file.
func (c *Config) errorf(path string, sentinel error, format string, args ...any) error {
	return &Error{File: c.file, Line: c.line(path), Path: path, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

func (c *Config) line(path string) int {
	for p := path; p != ""; {
		if l, ok := c.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}
