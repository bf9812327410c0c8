// Package launch starts the untrusted worker process from the trusted
// kernel side and hands back the RPC connection to it. Trust level:
// trusted kernel side.
//
// The worker gets no environment, no inherited descriptors but its pipes
// (fd 3: requests from the kernel, fd 4: events to the kernel; stdin is
// /dev/null, stdout and stderr are kept by the kernel for its log and for
// the reason a worker died), its own session and process group so that a
// kill reaches everything it started, and SIGKILL when the kernel dies.
//
// On Linux, unless Config.Plain is set, it also gets what must be done from
// outside the worker: a new network namespace without interfaces (and a new
// IPC namespace); its own user namespace, as nobody when the kernel runs as
// root; an empty root — its own mount namespace, chrooted into a fresh
// directory holding only its (statically linked) binary and deleted once it
// started, so the filesystem is gone even where Landlock is missing; and
// resource limits (address space, CPU time, open files, no file writes, no
// core dumps) set with prlimit before Start returns, that is before the
// worker can have received any code. Process.Verify checks the result in
// /proc instead of trusting the worker's word. Each layer the host refuses is dropped with a
// reason instead of failing the start; Process.Layers says what is in force.
// The worker confines itself further (Landlock, seccomp) with package
// confine and reports that in rpc.Hello.Confinement.
package launch
