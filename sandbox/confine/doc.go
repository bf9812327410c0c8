// Package confine is run by the untrusted worker on itself, before it loads
// the interpreter: it drops what the process could use to reach outside
// (privileges, files, network, other processes) and reports which layers
// are in force. Trust level: untrusted worker side (it runs in the worker,
// but before any user code, so its work can be relied on).
//
// Layers, each reported as "NAME: active (…)", "partial", "unavailable" or
// "off", never fatal when the host lacks one:
//
//   - fds: makes visible any descriptor beyond stdio, the RPC pipes and the
//     Go runtime's own (launch is what prevents leaks).
//   - no_new_privs: on all threads.
//   - landlock: every access right the host's Landlock ABI knows is handled
//     and none granted, so no path opens (not even for reading), no TCP
//     port binds or connects (ABI ≥ 4) and no signal or abstract socket
//     reaches outside the sandbox (ABI ≥ 6). Descriptors already open keep
//     working: the worker needs no file after start.
//   - seccomp: a deny list (EPERM) on all threads (TSYNC) for exec, fork,
//     ptrace and cross-process memory, socket creation, mounts and
//     namespaces, bpf, keyrings, io_uring, identity and limit changes, and
//     signals to anything but itself; any other syscall ABI kills the
//     process.
//
// Resource limits, the network namespace and the uid are set from outside
// by package launch, where the worker cannot undo them.
package confine
