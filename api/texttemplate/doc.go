// Package template is text/template as cells import it: the same template
// language, without the functions that read template files from disk
// (ParseFiles, ParseGlob, ParseFS). Templates are built from strings.
//
// Trust level: untrusted worker side; a thin wrapper so that no method of
// the standard Template that opens files is reachable from a cell.
package template
