// Package audit keeps a workspace's audit log: an append-only, hash-chained
// file of JSON lines (<workspace>/audit/audit.jsonl) that records session
// start and stop, each cell's code, each release decision, each review
// action and each egress alert.
//
// Trust level: trusted kernel side. The kernel and the steward's CLI write and
// read the log; the worker never sees its path.
//
// # Format
//
// Each line is one Entry encoded by encoding/json and ended by "\n". Entries
// are numbered 1, 2, 3… (Seq) and each holds in Prev the hex SHA-256 of the
// previous line's exact bytes (without its newline); the first holds "".
// Verify recomputes the chain from the bytes on disk, so any edit, removal,
// insertion or reordering of a line, and a line cut short, is reported with
// the number of the first line where the chain breaks.
//
// What the chain alone cannot show: whole lines removed from the end, or the
// file replaced by a shorter consistent one. Comparing the entry count and
// the last line with a copy kept outside the workspace closes that gap.
//
// # Concurrency
//
// Several kernel processes of one workspace append to the same file. Append
// takes an exclusive flock(2) on the file, reads only the last line (seeking
// from the end), writes the new line with a single write(2) in O_APPEND mode,
// fsyncs and unlocks; once it returns the entry is on disk. Verify and Read
// take a shared lock so they never see half a line from a writer. A Log is
// also safe for use by several goroutines.
//
// A log whose last line is incomplete (a write interrupted by power loss)
// is not appended to: Append fails, closed, until a steward has looked at it
// with `enclave audit verify`.
package audit
