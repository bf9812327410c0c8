//go:build !linux

package service

import (
	"errors"
	"net"
)

// Cred is the identity of a socket's peer.
type Cred struct {
	UID, GID, PID int
}

// PeerCred is only implemented on Linux (SO_PEERCRED).
func PeerCred(c *net.UnixConn) (Cred, error) {
	return Cred{}, errors.New("the enclave service needs Linux (SO_PEERCRED)")
}
