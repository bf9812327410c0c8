// Package airlock is the review queue between a workspace and the outside
// world: outputs the disclosure checks withheld and explicit export requests
// wait here until a reviewer other than their author approves or rejects
// them. Approved items are copied to the workspace's exports directory with
// a manifest of SHA-256 checksums.
//
// Trust level: trusted kernel side. The kernel submits items; the steward's
// CLI (`enclave review`) lists and decides them. The worker never sees the
// queue.
//
// # Layout
//
//	<workspace>/airlock/           0700
//	  .lock                        flock serialising id assignment and decisions
//	  r-0001.json                  the Item record (0600)
//	  r-0001.content               the bytes under review (0600)
//
// Every file is written to a temporary name, synced and renamed, so a reader
// sees an old or a new version, never half of one; a record is written only
// after its content. Ids are assigned under the lock from the highest id
// ever issued (kept in .lock) and the highest on disk, so they increase and
// never repeat, even across processes. The content's SHA-256 is fixed at
// submission and checked again whenever the content is read or approved.
package airlock
