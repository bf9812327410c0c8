// Package workspace manages the steward's side of data access: workspace
// directories (workspace.yaml, the imported data, exports/, the audit log),
// the researcher registry ($ENCLAVE_HOME/researchers.yaml) and the access
// check that decides whether a researcher may open a workspace's tier.
//
// Trust level: trusted kernel side. Only the kernel process and the steward's
// CLI use this package; the worker never sees a path from it. Open is the one
// entry point the kernel calls at start: it loads the workspace and the
// registry, refuses with the exact reason when the researcher's record does
// not allow the workspace's tier, and otherwise opens the tier's catalog
// read-only, so several kernels of one workspace can run at once.
//
// Dates in both files are calendar days (2006-01-02). Trainings are valid for
// one year: a training taken on 2025-03-01 expires on 2026-03-01, and from that
// day on the access check refuses with "... training expired on 2026-03-01".
package workspace
