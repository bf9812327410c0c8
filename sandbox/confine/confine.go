package confine

import (
	"fmt"
	"strings"
	"time"
)

// Options tunes the confinement. The zero value applies every layer.
type Options struct {
	// Off applies nothing and reports every layer as off: the "plain
	// worker" started by launch.Config.Plain, for measurement only.
	Off bool
}

// OffArg is the argument launch passes as the worker's first argument for a
// plain worker. It must equal launch.ConfineOffArg.
const OffArg = "-confine=off"

// FromArgs returns the Options the kernel asked for on the worker's command
// line and the remaining arguments. The worker calls it on os.Args[1:]
// before parsing its own flags:
//
//	opts, args := confine.FromArgs(os.Args[1:])
//	layers, err := confine.Apply(opts)
func FromArgs(args []string) (Options, []string) {
	var opts Options
	rest := make([]string, 0, len(args))
	for _, a := range args {
		if a == OffArg {
			opts.Off = true
			continue
		}
		rest = append(rest, a)
	}
	return opts, rest
}

// Layer names, in the order Apply reports them.
const (
	LayerNoNewPrivs = "no_new_privs"
	LayerLandlock   = "landlock"
	LayerSeccomp    = "seccomp"
	LayerFDs        = "fds"
)

// Apply confines the calling process (all its threads) and returns a line
// per layer: "NAME: active (what)", "NAME: partial (why)", "NAME:
// unavailable (why)" or "NAME: off (…)". A layer the host lacks is reported,
// not fatal; err is reserved for a process left in an unknown state, on
// which the worker must refuse to run user code.
//
// Call it before the interpreter starts and before opening anything: after
// it, the process can open no file, create no socket, start no process and
// signal nothing outside itself. Descriptors already open (the RPC pipes,
// stdout/stderr, the Go runtime's own) keep working.
func Apply(opts Options) (layers []string, err error) {
	if opts.Off {
		return []string{
			LayerNoNewPrivs + ": off (plain worker)",
			LayerLandlock + ": off (plain worker)",
			LayerSeccomp + ": off (plain worker)",
		}, nil
	}
	// Things the Go runtime and library would otherwise read from disk
	// lazily, later, when the files are out of reach.
	_ = time.Local.String()

	layers = append(layers, checkFDs())
	layers = append(layers, noNewPrivs())
	layers = append(layers, landlockAll())
	l, err := seccompFilter()
	layers = append(layers, l)
	if err != nil {
		return layers, err
	}
	return layers, nil
}

// Active reports whether every layer in layers is active, and the ones that
// are not.
func Active(layers []string) (ok bool, missing []string) {
	for _, l := range layers {
		if _, state, _ := strings.Cut(l, ": "); !strings.HasPrefix(state, "active") {
			missing = append(missing, l)
		}
	}
	return len(missing) == 0, missing
}

func unavailable(layer string, format string, args ...any) string {
	return layer + ": unavailable (" + fmt.Sprintf(format, args...) + ")"
}
