// Package zmqsock binds the five ZeroMQ sockets of a Jupyter kernel (shell
// and control ROUTER, iopub PUB, stdin ROUTER, heartbeat echo) and moves
// wire messages over them.
//
// Trust level: trusted kernel side, facing the network. Everything a peer
// sends is hostile until the codec has verified it: frames go to
// wire.Codec.Decode, which checks the signature before parsing, and a
// dropped message is logged, never executed. Below go-zeromq, a ZMTP frame
// scanner bounds the size of incoming messages before the library allocates
// them and gives a connection a few seconds to finish its handshake, so an
// oversized frame header or a silent peer cannot stop the kernel.
package zmqsock
