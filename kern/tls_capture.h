/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Structures of the TLS plaintext capture (kern/tls.bpf.c), shared with the
 * socket hooks of kern/capture.bpf.c and with userspace (user/tls_probe.c).
 *
 * The uprobes see the plaintext of SSL_read/SSL_write (and Go's
 * crypto/tls.(*Conn).Read/Write) but not the connection; the socket hooks
 * see the connection but only ciphertext. A call in progress is kept per
 * thread (tls_calls): the socket I/O the call does in the same thread tells
 * it its socket, and is itself not parsed.
 */
#ifndef KERNO_TLS_CAPTURE_H
#define KERNO_TLS_CAPTURE_H

enum kerno_tls_op {
	KERNO_TLS_READ = 0, /* plaintext comes in: KERNO_DIR_RX */
	KERNO_TLS_WRITE = 1, /* plaintext goes out: KERNO_DIR_TX */
	KERNO_TLS_HANDSHAKE = 2, /* no plaintext; its I/O marks the connection TLS */
};

/* struct kerno_conn's tls field. */
enum kerno_tls_state {
	KERNO_TLS_PLAIN = 0,
	/* Its handshake ran inside a probed call: every later call is probed
	 * too (entry probes are attached before the handshake's), its plaintext
	 * is measured. */
	KERNO_TLS_MEASURED = 1,
	/* Its first bytes were a TLS handshake outside any probed call: its
	 * library was probed late, or is not one Kerno probes. Calls may have
	 * been missed, so none is measured (counted once as tls_unseen). */
	KERNO_TLS_UNSEEN = 2,
};

/* An OpenSSL or BoringSSL call in progress in one thread (key: pid_tgid). */
struct kerno_tls_call {
	__u64 ssl; /* the SSL object */
	__u64 buf; /* the caller's buffer */
	__u64 nbytes_ptr; /* _ex variants: where the byte count goes, else 0 */
	__u64 sk; /* socket of the nested I/O, 0 until it is seen */
	__u32 depth; /* SSL calls nested inside this one (SSL_read doing a handshake) */
	__u8 op; /* enum kerno_tls_op */
	__u8 pad[3];
};

/* An SSL object of a process, and the socket it was last seen use. */
struct kerno_tls_ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

/*
 * A Go crypto/tls Read or Write in progress, keyed by goroutine: a
 * goroutine parked on the network may resume on another thread.
 */
struct kerno_tls_go_key {
	__u64 g; /* the goroutine (register R14 under Go's register ABI) */
	__u32 tgid;
	__u32 pad;
};

struct kerno_tls_go_call {
	__u64 buf;
	__u64 sk; /* from the tls.Conn's file descriptor */
	__u8 op;
	__u8 pad[7];
};

/* A process that just called exec(): userspace looks at its mappings. */
struct kerno_exec_event {
	__u32 tgid;
};

/*
 * Offsets in Go's structures from a *tls.Conn to its file descriptor (the
 * same from Go 1.17 to 1.23): tls.Conn.conn is a net.Conn interface whose
 * data word (offset 8) points at a net.TCPConn, whose first field is the
 * *netFD; its poll.FD's Sysfd follows the 16-byte fdMutex.
 */
#define KERNO_GO_CONN_IFACE_DATA 8
#define KERNO_GO_NETFD_SYSFD 16

#endif /* KERNO_TLS_CAPTURE_H */
