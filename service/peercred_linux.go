//go:build linux

package service

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Cred is the identity of a socket's peer, as the kernel recorded it when
// the peer connected: it cannot be chosen by the peer.
type Cred struct {
	UID, GID, PID int
}

// PeerCred returns the credentials of the process at the other end of c
// (SO_PEERCRED).
func PeerCred(c *net.UnixConn) (Cred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var u *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		u, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Cred{}, err
	}
	if serr != nil {
		return Cred{}, fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	return Cred{UID: int(u.Uid), GID: int(u.Gid), PID: int(u.Pid)}, nil
}
