// Command fakeworker is the fake enclave-worker of package fake, for trying
// the kernel end to end without the yaegi worker. Test-only.
package main

import "enclave/kernel/worker/internal/fake"

func main() { fake.Main() }
