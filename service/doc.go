// Package service is the enclave data service (enclave serve) and its
// protocol: the trusted process that alone can read the workspaces, the
// researcher registry, the release history and the audit log, and that
// starts kernels for researchers who ask through a Unix socket.
//
// Trust level: trusted kernel side. It runs as a dedicated system user
// (e.g. enclave) whose files are 0600 and directories 0700; CheckTree
// proves that before the service serves and again before each kernel opens
// a workspace.
//
// The protocol is JSON lines over a Unix stream socket (e.g.
// /run/enclave/sock). A client (enclave launch, run by Jupyter as the
// researcher in place of the kernel) sends one Request {"op":"start"} with
// the workspace name its kernelspec gives and the contents of the Jupyter
// connection file it was handed; the service answers with Events:
//
//	client → service   {"op":"start","version":1,"workspace":"t2d","connection":{…}}
//	service → client   {"event":"started","kernel":"k3","pid":4242,"researcher":"alice",…}
//	client → service   {"op":"interrupt"} | {"op":"terminate"}        (any number)
//	service → client   {"event":"exited","code":0}                     (then closes)
//
// or {"event":"error","error":"…"} when no kernel can be started at all
// (a connection that is not a signed loopback TCP one, too many kernels).
// {"op":"status"} answers one {"event":"status"} (enclave doctor).
//
// Identity flows only from the socket: the service reads the peer's uid
// with SO_PEERCRED and maps it to a researcher through the registry's
// unix_users (workspace.Registry.ResearcherOf). Nothing the client says
// about who it is, and nothing in its environment, is read. The service
// then checks membership, trainings and tier (workspace.Check) and hands
// the kernel an Assignment on a pipe: the connection, the researcher, the
// workspace directory, or the refusal the kernel answers every cell with.
//
// Kernels are started as the service user, from a small pool of spare
// kernel processes that have already started and wait for their
// assignment, so a kernel through the service is as quick to answer as one
// Jupyter starts itself. The service supervises each kernel: it forwards
// interrupts and terminations from the client, terminates the kernel when
// the client's connection ends (the launcher was killed), and tells the
// client when the kernel ended, so that the launcher ends too. A kernel
// whose service dies gets SIGTERM (PR_SET_PDEATHSIG).
package service
