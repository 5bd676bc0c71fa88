package avi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Credentials log in to the controller: a username with a password, or a
// username with an API token (Avi's token login still names the user). Its
// String and GoString never print the secrets, so a stray %v cannot leak them.
type Credentials struct {
	Username string
	Password string
	Token    string
}

func (c Credentials) String() string {
	kind := "password"
	if c.Token != "" {
		kind = "token"
	}
	return fmt.Sprintf("user %q (%s)", c.Username, kind)
}

// GoString implements fmt.GoStringer, for %#v.
func (c Credentials) GoString() string { return "avi.Credentials{" + c.String() + "}" }

// ReadCredentials reads a credentials file: either a JSON object
// {"username": ..., "password": ...} / {"username": ..., "token": ...}, or
// YAML-like `key: value` lines (username, password, token; blank lines and
// # comments are skipped; values may be quoted). Errors name the file, the
// line and the key, never a value.
func ReadCredentials(path string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return Credentials{}, fmt.Errorf("cannot read credentials file %q: %w", path, err)
	}
	c, err := parseCredentials(b)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials file %q: %w", path, err)
	}
	return c, nil
}

func parseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var raw map[string]any
		if err := json.Unmarshal(t, &raw); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return c, fmt.Errorf("not valid JSON (at byte %d); write {\"username\": ..., \"password\": ...}", se.Offset)
			}
			return c, fmt.Errorf("not a JSON object of strings; write {\"username\": ..., \"password\": ...}")
		}
		for k, v := range raw {
			s, ok := v.(string)
			if !ok {
				return c, fmt.Errorf("key %q must be a string", k)
			}
			if err := c.set(k, s); err != nil {
				return c, err
			}
		}
		return c, c.check()
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || line == "---" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return c, fmt.Errorf("line %d is not `key: value` (keys: username, password, token)", n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		if err := c.set(strings.TrimSpace(k), v); err != nil {
			return c, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	return c, c.check()
}

func (c *Credentials) set(key, val string) error {
	switch strings.ToLower(key) {
	case "username", "user":
		c.Username = val
	case "password":
		c.Password = val
	case "token", "authtoken", "auth_token":
		c.Token = val
	default:
		return fmt.Errorf("unknown key %q (keys: username, password, token)", key)
	}
	return nil
}

func (c Credentials) check() error {
	switch {
	case c.Username == "":
		return errors.New("no username: add `username: NAME` (a token login names its user too)")
	case c.Password == "" && c.Token == "":
		return errors.New("no password or token: add `password: ...` or `token: ...`")
	case c.Password != "" && c.Token != "":
		return errors.New("both a password and a token: keep one")
	}
	return nil
}
