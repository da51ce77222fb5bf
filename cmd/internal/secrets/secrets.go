// Package secrets masks the credentials in the server addresses careerd and
// careerctl take (NATS and PostgreSQL URLs, PostgreSQL key/value connection
// strings) wherever they show them: -h, errors and logs.
package secrets

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ConnectionStringError is nil when PostgreSQL's client can read u as a
// connection string, else why not: of the client's error only the reason,
// its password masked, since the client's own quote of a string it failed
// to read could show one.
func ConnectionStringError(u string) error {
	_, err := pgxpool.ParseConfig(u)
	if err == nil {
		return nil
	}
	reason := err.Error()
	var perr *pgconn.ParseConfigError
	if errors.As(err, &perr) {
		// "cannot parse `<the string, its password hidden>`: <reason>"
		if i := strings.LastIndex(reason, "`: "); i >= 0 {
			reason = reason[i+3:]
		}
	}
	return Redact(errors.New(reason), u)
}

// MaskedValue is a string flag whose -h default is masked.
type MaskedValue struct {
	P    *string
	Mask func(string) string
}

func (v MaskedValue) String() string {
	if v.P == nil {
		return ""
	}
	return v.Mask(*v.P)
}

func (v MaskedValue) Set(s string) error { *v.P = s; return nil }

// MaskURL hides the credentials in a server address: a URL's password (or
// its whole user info when it is a bare token, as in nats://TOKEN@host) and
// password query parameters, and the password of a PostgreSQL key/value
// connection string (host=... password=...). Several comma-separated URLs
// (a NATS cluster) are each masked.
func MaskURL(u string) string {
	if u == "" {
		return ""
	}
	if t := strings.TrimSpace(u); t != u {
		// White space around a URL (a secret file's newline, a quoted
		// value's space) is kept, and what it holds masked as itself.
		i := strings.Index(u, t)
		return u[:i] + MaskURL(t) + u[i+len(t):]
	}
	scheme := strings.Index(u, "://")
	if scheme >= 0 && strings.ContainsAny(u[:scheme], "= \t\n\r\f\v") {
		scheme = -1 // "://" in a key/value pair's value, not after a scheme
	}
	switch {
	case scheme < 0 && strings.Contains(u, "="):
		return maskKeyValues(u)
	case scheme >= 0 && isPostgresURL(u[:scheme+3]):
		// One URL, its hosts (h1,h2) after the user info: a comma before
		// the @ is the password's, not a list's.
		return maskOneURL(u)
	}
	parts := strings.Split(u, ",")
	for i, part := range parts {
		parts[i] = maskOneURL(part)
	}
	return strings.Join(parts, ",")
}

// redacted is an error whose message has a server address's credentials
// masked (MaskURL); it unwraps to the original.
type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }
func (r redacted) Unwrap() error { return r.err }

// redact masks in err's message the credentials of addr, a server address
// (or list) it may quote whole or in part, as url.Parse's errors do.
func Redact(err error, addr string) error {
	if err == nil || addr == "" {
		return err
	}
	// One pass, an address quoted whole masked before its user info alone,
	// and nothing masked twice: the user info sought in the masked address
	// masked it again where it matched its user, host, path or mask
	// ("u:db@db" read "u:********@********", "u:*@h" a mask of 64 stars).
	var whole, infos []string
	for _, part := range strings.Split(addr, ",") {
		if masked := maskOneURL(part); masked != part {
			whole = append(whole, part, masked)
		}
		// The user info alone, should the message quote it apart.
		rest := part
		if i := strings.Index(rest, "://"); i >= 0 {
			rest = rest[i+3:]
		}
		if at := strings.LastIndex(rest, "@"); at > 0 {
			info := rest[:at]
			if _, pass, ok := strings.Cut(info, ":"); ok {
				info = pass
			} else if isPostgresURL(part[:len(part)-len(rest)]) {
				info = "" // a user name
			}
			if info != "" {
				infos = append(infos, info, "********")
			}
		}
	}
	// A Replacer tries its pairs in the order given where several match.
	return redacted{strings.NewReplacer(append(whole, infos...)...).Replace(err.Error()), err}
}

// maskOneURL masks one server address, with or without a scheme (NATS
// takes "user:pass@host:4222" as well): the password of its user info, or
// the whole user info when it is a bare token (nats://TOKEN@host), except
// in a PostgreSQL URL, whose bare user info is a user name
// (postgres://postgres@host/db); and password query parameters.
func maskOneURL(u string) string {
	prefix, rest := "", u
	if scheme := strings.Index(u, "://"); scheme >= 0 {
		prefix, rest = u[:scheme+3], u[scheme+3:]
	}
	// The user info ends at the last @ before the path: a password may
	// hold ? or # (not a valid URL, and still a password). With no @ there,
	// at the last @ before the query: a password may hold / as well.
	at := -1
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		at = strings.LastIndex(rest[:slash], "@")
	} else {
		at = strings.LastIndex(rest, "@")
	}
	if at < 0 {
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			at = strings.LastIndex(rest[:q], "@")
		} else {
			at = strings.LastIndex(rest, "@")
		}
	}
	if at >= 0 {
		userinfo := rest[:at]
		if user, _, ok := strings.Cut(userinfo, ":"); ok {
			userinfo = user + ":********"
		} else if !isPostgresURL(prefix) {
			userinfo = "********" // a token
		}
		rest = userinfo + rest[at:]
		at = len(userinfo)
	}
	hostEnd := len(rest)
	if slash := strings.IndexByte(rest[at+1:], '/'); slash >= 0 {
		hostEnd = at + 1 + slash
	}
	if q := strings.IndexByte(rest[hostEnd:], '?'); q >= 0 {
		q += hostEnd
		params := strings.Split(rest[q+1:], "&")
		for i, kv := range params {
			if k, _, ok := strings.Cut(kv, "="); ok && isSecretKey(k) {
				params[i] = k + "=********"
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return prefix + rest
}

// isPostgresURL reports whether a URL's scheme (with its "://") is
// PostgreSQL's.
func isPostgresURL(prefix string) bool {
	switch strings.ToLower(prefix) {
	case "postgres://", "postgresql://":
		return true
	}
	return false
}

// maskKeyValues masks the secret values of a key/value connection string
// (key=value or key='quoted value', separated by spaces).
func maskKeyValues(s string) string {
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	var b strings.Builder
	for i := 0; i < len(s); {
		if space(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			b.WriteString(s[i:])
			break
		}
		key := strings.TrimSpace(s[i : i+eq])
		j := i + eq + 1
		for j < len(s) && space(s[j]) {
			j++
		}
		end := j
		if end < len(s) && s[end] == '\'' {
			end++
			for end < len(s) && s[end] != '\'' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			end = min(end+1, len(s))
		} else {
			// An unquoted value ends at white space not escaped (\ ).
			for end < len(s) && !space(s[end]) {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			end = min(end, len(s))
		}
		if isSecretKey(key) {
			b.WriteString(s[i:j] + "********")
		} else {
			b.WriteString(s[i:end])
		}
		i = end
	}
	return b.String()
}

func isSecretKey(k string) bool {
	switch strings.ToLower(k) {
	case "password", "pass", "token", "secret", "sslpassword":
		return true
	}
	return false
}
