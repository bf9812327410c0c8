// Package workspace manages the steward's side of data access: workspace
// directories, the researcher registry and the access check that decides
// whether a researcher may open a workspace's tier.
//
// Trust level: trusted kernel side. Only the kernel process and the steward's
// CLI use this package; the worker never sees a path from it. Open (or
// FromEnv) is the entry point the kernel calls at start: it loads the
// workspace and the registry, refuses with the exact reason when the
// researcher's record does not allow the workspace's tier, and otherwise
// opens the tier's catalog read-only, so several kernels of one workspace can
// run at once.
//
// # A workspace directory
//
//	workspace.yaml                 name, research purpose, tier, granted datasets,
//	                               researchers, policy overrides, last import
//	data/cdm.duckdb                base tables and the date-shift secret (steward only)
//	data/tier_<tier>.duckdb        the workspace's tier, the only file a kernel opens
//	data/genomics/                 genotypes (controlled tier workspaces granted genomics)
//	exports/                       approved exports
//	audit/audit.jsonl              the audit log
//
// # The researcher registry
//
// $ENCLAVE_HOME/researchers.yaml (ENCLAVE_HOME defaults to
// $XDG_DATA_HOME/enclave, else ~/.local/share/enclave), kept by the data
// steward outside every workspace. Dates in both files are calendar days
// (2006-01-02). Trainings are valid for one year: a training taken on
// 2025-03-01 expires on 2026-03-01, and from that day on the access check
// refuses with "... training expired on 2026-03-01".
package workspace
