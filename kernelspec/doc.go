// Package kernelspec writes and removes the Jupyter kernelspec of enclave:
// kernel.json (argv with the absolute enclave binary and {connection_file},
// display name, language go, interrupt mode "message", metadata, and the
// environment that names a workspace) and the logos, which it draws in Go.
//
// Trust level: trusted, steward/installer side. It writes only below the
// chosen Jupyter data directory.
package kernelspec
