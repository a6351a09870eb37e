/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* From a file descriptor of the current process to its socket. */
#ifndef KERNO_FD_SOCK_BPF_H
#define KERNO_FD_SOCK_BPF_H

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* The socket behind fd in the current process, or NULL. */
static __always_inline struct sock *fd_to_sock(__u64 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f;
	struct socket *sock;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	/* socket_file_ops is not in kallsyms everywhere: ask the inode instead. */
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

#endif /* KERNO_FD_SOCK_BPF_H */
