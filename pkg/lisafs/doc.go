// Package lisafs is the file protocol between the Sentry (client) and the
// gofer (server): the only way the sandbox reaches files that live on the
// host. The package holds the wire format, a client that many goroutines
// share, and a server loop that decodes requests and hands them to a
// Session implemented elsewhere (runsc/gofer for host files).
//
// # Transport
//
// One connection is one AF_UNIX SOCK_SEQPACKET socket. The kernel keeps
// message boundaries, so one datagram is exactly one message, a short or
// over-long datagram is detected without a framing state machine, and
// SCM_RIGHTS file descriptors arrive attached to the message that names
// them. A message is at most MaxMessageSize bytes, well under the default
// socket send buffer so that a send never fails with EMSGSIZE.
//
// # Message layout
//
// Every message starts with a 16-byte little-endian header:
//
//	offset size field
//	0      4    size   whole message length in bytes, header included;
//	                   must equal the datagram length
//	4      2    type   MsgType; a reply carries its request's type
//	6      2    errno  0 in requests; in replies 0 for success or a Linux
//	                   errno number, in which case the body is empty
//	8      8    tag    chosen by the client, echoed in the reply; replies
//	                   may come back in any order
//
// The body follows, encoded field by field in the order each message's
// encode method writes them: integers little-endian at their natural
// width, no padding; strings as a u16 byte count then the bytes; lists as
// a u16 element count then the elements. Decoding is bounds-checked and a
// body with bytes left over is malformed.
//
// A request whose header is readable but whose body is malformed gets a
// reply with EINVAL; an unknown type gets ENOSYS. A datagram too short to
// hold a header, whose size field disagrees with its length, that was cut
// short by the receive buffer, or that carries file descriptors (clients
// never send any) ends the connection: its tag cannot be trusted.
//
// # Handles
//
// An FDID names a server-side object, scoped to its connection. Node
// handles (from Mount, Walk and the create calls) pin one file with an
// O_PATH host descriptor; open handles (from Open and OpenCreate) hold an
// open file description whose host descriptor is also donated to the
// client with SCM_RIGHTS, so reads and writes never cross the protocol.
// Close releases handles in batches; a closed connection releases all of
// its handles.
//
// # Names
//
// Every path-taking operation names one component relative to a directory
// handle. "", ".", "..", and anything containing '/' or NUL is rejected
// with EINVAL; names longer than NAME_MAX get ENAMETOOLONG. The server
// never follows symbolic links: Walk stops at one and the client resolves
// it.
//
// # Flags and modes
//
// Open flags, file modes, renameat2 and unlinkat flags are the Linux
// values of the host architecture: the Sentry and the gofer always run on
// the same machine.
package lisafs
