package console

import (
	"html/template"
	"strings"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// short cuts a hex digest to its first 12 digits; the title attribute
	// or the linked page has the whole.
	"short": func(s string) string {
		if len(s) <= 12 {
			return s
		}
		return s[:12] + "…"
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.Format("2006-01-02 15:04:05 UTC")
	},
	"iso":  func(t time.Time) string { return t.Format(time.RFC3339) },
	"prev": func(h uint64) uint64 { return h - 1 },
	"role": func(r zkv1.Role) string { return strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_")) },
}
