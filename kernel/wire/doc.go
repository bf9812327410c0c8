// Package wire is the Jupyter messaging protocol without its transport:
// connection files, message signing, replay protection and the multipart
// message codec (identities, the "<IDS|MSG>" delimiter, signature, header,
// parent header, metadata, content, buffers).
//
// Trust level: trusted kernel side. It holds the connection key. Decode
// checks the HMAC over the raw frames with hmac.Equal and rejects digests it
// has seen before, and only then parses JSON, so nothing an unauthenticated
// peer sends reaches a JSON decoder. It does not import ZeroMQ and knows
// nothing of cells; package zmqsock moves its frames.
package wire
