// Package export asks for a released table or figure to leave the enclave
// as a file. The request goes to the workspace's airlock; a reviewer other
// than the author approves or rejects it (enclave review), and approved
// files land in the workspace's exports/ with a manifest and checksums.
//
//	r := export.File("table1.csv", stats.Table1(cohort))
//	r.Review // "r-0007"
//
// Trust level: untrusted worker side.
package export
