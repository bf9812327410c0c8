package template

import (
	"html/template"
	"io"
)

// Typed strings that html/template trusts as already safe.
type (
	HTML     = template.HTML
	HTMLAttr = template.HTMLAttr
	CSS      = template.CSS
	JS       = template.JS
	URL      = template.URL
)

// FuncMap maps names to functions callable from a template.
type FuncMap = template.FuncMap

// Template is a parsed HTML template.
type Template struct{ t *template.Template }

func wrap(t *template.Template) *Template {
	if t == nil {
		return nil
	}
	return &Template{t}
}

// New allocates a new HTML template with the given name.
func New(name string) *Template { return wrap(template.New(name)) }

// Must panics if err is not nil, else returns t.
func Must(t *Template, err error) *Template {
	if err != nil {
		panic(err)
	}
	return t
}

// Parse parses text as a template body for t.
func (t *Template) Parse(text string) (*Template, error) {
	_, err := t.t.Parse(text)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Execute applies the template to data, writing to w.
func (t *Template) Execute(w io.Writer, data any) error { return t.t.Execute(w, data) }

// ExecuteTemplate applies the template named name.
func (t *Template) ExecuteTemplate(w io.Writer, name string, data any) error {
	return t.t.ExecuteTemplate(w, name, data)
}

// Funcs adds functions to the template's function map.
func (t *Template) Funcs(m FuncMap) *Template { t.t.Funcs(m); return t }

// Name is the template's name.
func (t *Template) Name() string { return t.t.Name() }

// New makes a template associated with t.
func (t *Template) New(name string) *Template { return wrap(t.t.New(name)) }

// Lookup returns the associated template with the given name, or nil.
func (t *Template) Lookup(name string) *Template { return wrap(t.t.Lookup(name)) }

// Delims sets the action delimiters.
func (t *Template) Delims(left, right string) *Template { t.t.Delims(left, right); return t }

// Option sets options ("missingkey=error", …).
func (t *Template) Option(opt ...string) *Template { t.t.Option(opt...); return t }

// Clone returns a duplicate of the template and its associated templates.
func (t *Template) Clone() (*Template, error) {
	c, err := t.t.Clone()
	return wrap(c), err
}

// DefinedTemplates lists the defined templates, for error messages.
func (t *Template) DefinedTemplates() string { return t.t.DefinedTemplates() }

// HTMLEscapeString returns the escaped HTML equivalent of s.
func HTMLEscapeString(s string) string { return template.HTMLEscapeString(s) }

// JSEscapeString returns the escaped JavaScript equivalent of s.
func JSEscapeString(s string) string { return template.JSEscapeString(s) }

// URLQueryEscaper returns the escaped form of its arguments for a URL query.
func URLQueryEscaper(args ...any) string { return template.URLQueryEscaper(args...) }
