// Package template is html/template as cells import it: contextual
// escaping for HTML output (tables, reports shown with display.HTML),
// without the functions that read template files from disk (ParseFiles,
// ParseGlob, ParseFS).
//
// Trust level: untrusted worker side; a thin wrapper so that no method of
// the standard Template that opens files is reachable from a cell.
package template
