// Command enclave is the trusted side of the enclave Jupyter kernel: the
// kernel itself and the steward's tools around it (install, synth, workspace,
// researcher, genomics, doctor). Each subcommand lives in its own file and
// adds itself to the command table with register; main only dispatches.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one entry of the subcommand table.
type command struct {
	Name  string // word after "enclave"
	Usage string // one-line synopsis shown by "enclave help"
	// Run executes the subcommand with the arguments after its name.
	// Returning errUsage prints the synopsis; any other error is printed
	// as "enclave NAME: err" and exits 1.
	Run func(args []string) error
}

// errUsage asks main to print the command's synopsis and exit 2.
var errUsage = errors.New("usage")

var commands = map[string]*command{}

// register adds c to the command table; each subcommand file calls it from init.
func register(c *command) {
	if _, dup := commands[c.Name]; dup {
		panic("enclave: duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "enclave: unknown command %q\n\n", args[0])
		printHelp(stderr)
		return 2
	}
	err := c.Run(args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stderr, "usage: enclave %s\n", c.Usage)
		return 2
	default:
		fmt.Fprintf(stderr, "enclave %s: %v\n", c.Name, err)
		return 1
	}
}

func printHelp(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("enclave: a Jupyter kernel for protected health cohorts\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  enclave %s\n", commands[n].Usage)
	}
	io.WriteString(w, b.String())
}
