package status

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

//go:embed page.html
var pageHTML string

// The page is rendered here, once: the browser's script only fetches the
// same page's content again (?fragment=1) to refresh it in place.
var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ago":  ago,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"pageURL": func(f Filter, offset, limit int) string {
		v := url.Values{}
		if f.Name != "" {
			v.Set("name", f.Name)
		}
		if f.Site != "" {
			v.Set("site", f.Site)
		}
		if f.State != "" {
			v.Set("state", f.State)
		}
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		if limit != DefaultLimit {
			v.Set("limit", strconv.Itoa(limit))
		}
		if len(v) == 0 {
			return "/"
		}
		return "/?" + v.Encode()
	},
	"add":   func(a, b int) int { return a + b },
	"sub":   func(a, b int) int { return a - b },
	"deref": func(b *bool) bool { return b != nil && *b },
}).Parse(pageHTML))

// ago renders how long ago t was, for "since" columns.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	p, err := s.build(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := "page"
	if r.URL.Query().Get("fragment") != "" {
		name = "content"
	}
	var buf bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&buf, name, p); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
