package symbols

import "reflect"

// copyOf exports a package variable as an addressable copy of its static
// type: a cell may assign to it, which changes only what cells see, never
// the variable the worker's own code uses.
func copyOf[T any](v T) reflect.Value { return reflect.ValueOf(&v).Elem() }
