package http

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// params are the query parameters as the original server sees them after Python's
// parse_qs: blank values dropped, names kept in the order they first appear.
type params struct {
	names  []string
	values map[string][]string
}

// parseQuery splits a raw query string the way parse_qs does: pairs separated by '&',
// a pair without '=' or with an empty value dropped, '+' and %XX decoded, malformed
// escapes kept as they are and invalid UTF-8 replaced, so no input is an error.
func parseQuery(raw string) *params {
	p := &params{values: make(map[string][]string)}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, value, ok := strings.Cut(pair, "=")
		if !ok || value == "" {
			continue
		}
		p.add(unquote(name), unquote(value))
	}
	return p
}

func (p *params) add(name, value string) {
	if _, seen := p.values[name]; !seen {
		p.names = append(p.names, name)
	}
	p.values[name] = append(p.values[name], value)
}

func (p *params) has(name string) bool {
	_, ok := p.values[name]
	return ok
}

// first is the first value of name, as the original reads auth_key.
func (p *params) first(name string) (string, bool) {
	v, ok := p.values[name]
	if !ok {
		return "", false
	}
	return v[0], true
}

// last is the last value of name, as the original reads every string parameter.
func (p *params) last(name string) (string, bool) {
	v, ok := p.values[name]
	if !ok {
		return "", false
	}
	return v[len(v)-1], true
}

// all is every value of name (email may repeat).
func (p *params) all(name string) []string {
	return p.values[name]
}

func (p *params) remove(name string) {
	if _, ok := p.values[name]; !ok {
		return
	}
	delete(p.values, name)
	for i, n := range p.names {
		if n == name {
			p.names = append(p.names[:i], p.names[i+1:]...)
			break
		}
	}
}

// require is the original's required_parameters check.
func (p *params) require(names ...string) error {
	for _, n := range names {
		if !p.has(n) {
			return badRequest(fmt.Sprintf("Missing argument %q", n))
		}
	}
	return nil
}

// allow is the original's valid_parameters check: the first unknown name, in query
// order, is the error.
func (p *params) allow(names ...string) error {
	for _, n := range p.names {
		known := false
		for _, a := range names {
			if n == a {
				known = true
				break
			}
		}
		if !known {
			return badRequest(fmt.Sprintf("Unexpected argument %q", n))
		}
	}
	return nil
}

// boolean reads a boolean parameter with the original's spellings, in any case:
// true/yes/1 and false/no/0/” (the original cmcli sends True and False).
func (p *params) boolean(name string) (value, present bool, err error) {
	v, ok := p.last(name)
	if !ok {
		return false, false, nil
	}
	switch strings.ToLower(v) {
	case "true", "yes", "1":
		return true, true, nil
	case "false", "no", "0", "":
		return false, true, nil
	}
	return false, true, badRequest(fmt.Sprintf("Bad boolean value %q for parameter %q", v, name))
}

// optionalBool is boolean as a pointer: nil when the parameter is absent.
func (p *params) optionalBool(name string) (*bool, error) {
	v, present, err := p.boolean(name)
	if err != nil || !present {
		return nil, err
	}
	return &v, nil
}

// positiveInt reads an optional positive integer parameter (0 when absent).
func (p *params) positiveInt(name string) (int, error) {
	v, ok := p.last(name)
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, badRequest(fmt.Sprintf("Bad value %q for parameter %q: must be a positive integer", v, name))
	}
	return n, nil
}

// unquote is Python's unquote_plus with errors='replace'.
func unquote(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return validUTF8(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return validUTF8(string(b))
}

// validUTF8 replaces each invalid byte with U+FFFD, as Python's decoder does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
