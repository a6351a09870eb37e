// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Finding the TLS functions in an ELF file with libelf (see tls_elf.h).
 * Symbols come from .symtab (executables that link a library in, Go) and
 * .dynsym (shared libraries); defined functions only, so an executable that
 * merely imports SSL_read is not mistaken for a library. Go's RET
 * instructions are found by decoding the function body with Capstone, one
 * instruction after the other: a 0xc3 byte inside another instruction is
 * not a return, and a probe there would corrupt the program.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <capstone/capstone.h>

#include "tls_elf.h"

/* Go functions larger than this are not decoded (Read and Write are ~1 KiB). */
#define GO_FUNC_MAX_BYTES (64 * 1024)
/* RET instructions probed per Go function, at most. */
#define GO_MAX_RETS 24
/* A Go prologue's stack check is within its first few instructions. */
#define GO_PROLOGUE_INSNS 6

struct sym_want {
	const char *name;
	enum tls_hook hook;
};

/*
 * In attach order, the handshake's entry last: a connection whose handshake
 * is seen has every later call seen (KERNO_TLS_MEASURED in kern/tls_capture.h).
 */
static const struct sym_want ssl_syms[] = {
	{ "SSL_read", TLS_HOOK_SSL_READ },
	{ "SSL_write", TLS_HOOK_SSL_WRITE },
	{ "SSL_read_ex", TLS_HOOK_SSL_READ_EX },
	{ "SSL_write_ex", TLS_HOOK_SSL_WRITE_EX },
	{ "SSL_do_handshake", TLS_HOOK_SSL_HANDSHAKE },
};

static const struct sym_want go_syms[] = {
	{ "crypto/tls.(*Conn).Read", TLS_HOOK_GO_READ },
	{ "crypto/tls.(*Conn).Write", TLS_HOOK_GO_WRITE },
	{ "crypto/tls.(*Conn).handshakeContext", TLS_HOOK_GO_HANDSHAKE },
};

#define N_SSL (sizeof(ssl_syms) / sizeof(ssl_syms[0]))
#define N_GO (sizeof(go_syms) / sizeof(go_syms[0]))

struct found {
	uint64_t addr; /* virtual address, 0 when not found */
	uint64_t size;
};

struct scan {
	Elf *elf;
	struct found ssl[N_SSL];
	struct found go[N_GO];
	bool boringssl; /* a symbol only BoringSSL has */
};

const char *tls_lib_name(enum tls_lib lib)
{
	switch (lib) {
	case TLS_LIB_OPENSSL:
		return "openssl";
	case TLS_LIB_BORINGSSL:
		return "boringssl";
	case TLS_LIB_GO:
		return "go";
	default:
		return "none";
	}
}

static void match_symbol(struct scan *s, const char *name, const GElf_Sym *sym)
{
	size_t i;

	if (!strcmp(name, "SSL_CTX_set_strict_cipher_list"))
		s->boringssl = true;
	for (i = 0; i < N_SSL; i++)
		if (!s->ssl[i].addr && !strcmp(name, ssl_syms[i].name)) {
			s->ssl[i].addr = sym->st_value;
			s->ssl[i].size = sym->st_size;
		}
	for (i = 0; i < N_GO; i++)
		if (!s->go[i].addr && !strcmp(name, go_syms[i].name)) {
			s->go[i].addr = sym->st_value;
			s->go[i].size = sym->st_size;
		}
}

/* Every defined function symbol of one symbol table. */
static void scan_symtab(struct scan *s, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;
	GElf_Sym sym;
	const char *name;

	if (!data || !sh->sh_entsize)
		return;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		if (!gelf_getsym(data, (int)i, &sym))
			break;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		name = elf_strptr(s->elf, sh->sh_link, sym.st_name);
		if (name)
			match_symbol(s, name, &sym);
	}
}

/* File offset of virtual address addr in an executable segment, or 0. */
static uint64_t file_offset(Elf *elf, uint64_t addr)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return 0;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_filesz)
			return addr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static Elf_Scn *section_named(Elf *elf, const char *want, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *name;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh->sh_name);
		if (name && !strcmp(name, want))
			return scn;
	}
	return NULL;
}

/*
 * Go 1.x of the toolchain that built the binary, from the "go1.N" its build
 * information carries; 0 when there is none.
 */
static int go_minor_version(Elf *elf)
{
	GElf_Shdr sh;
	Elf_Scn *scn = section_named(elf, ".go.buildinfo", &sh);
	Elf_Data *data = scn ? elf_getdata(scn, NULL) : NULL;
	const char *p, *end;

	if (!data || !data->d_buf)
		return 0;
	p = data->d_buf;
	end = p + data->d_size;
	for (; p + 5 < end; p++)
		if (!memcmp(p, "go1.", 4) && p[4] >= '0' && p[4] <= '9')
			return (int)strtol(p + 4, NULL, 10);
	return 0;
}

static int add_point(struct tls_elf_info *info, enum tls_hook hook, uint64_t offset)
{
	if (!offset || info->n_points >= TLS_ELF_MAX_POINTS)
		return -1;
	info->points[info->n_points].hook = hook;
	info->points[info->n_points].offset = offset;
	info->n_points++;
	return 0;
}

/* One Go function's code, decoded with operand details. */
struct go_func {
	uint8_t *code;
	uint64_t off; /* file offset of its first byte */
	uint64_t size;
	csh cs;
	cs_insn *insn;
};

static void go_func_close(struct go_func *f)
{
	if (f->insn)
		cs_free(f->insn, 1);
	if (f->cs)
		cs_close(&f->cs);
	free(f->code);
}

static int go_func_open(struct go_func *f, int fd, uint64_t off, uint64_t size)
{
	memset(f, 0, sizeof(*f));
	/* off 0: the symbol is outside every executable segment. */
	if (!off || !size || size > GO_FUNC_MAX_BYTES)
		return -1;
	f->off = off;
	f->size = size;
	f->code = malloc(size);
	if (!f->code || pread(fd, f->code, size, (off_t)off) != (ssize_t)size ||
	    cs_open(CS_ARCH_X86, CS_MODE_64, &f->cs) != CS_ERR_OK ||
	    cs_option(f->cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK)
		goto fail;
	f->insn = cs_malloc(f->cs);
	if (!f->insn)
		goto fail;
	return 0;
fail:
	go_func_close(f);
	return -1;
}

/* Offsets of the RET instructions of f. */
static int add_go_rets(struct go_func *f, struct tls_elf_info *info)
{
	const uint8_t *code = f->code;
	size_t left = f->size;
	uint64_t addr = f->off;
	int rets = 0;

	while (cs_disasm_iter(f->cs, &code, &left, &addr, f->insn)) {
		if (f->insn->id != X86_INS_RET)
			continue;
		if (++rets > GO_MAX_RETS || add_point(info, TLS_HOOK_GO_RET, f->insn->address))
			return -1;
	}
	/* Stopping short of the end would leave returns unprobed. */
	return left || !rets ? -1 : 0;
}

/* `cmp reg, [r14 + 16]`: the stack pointer against g.stackguard0. */
static bool is_stack_guard_cmp(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	return insn->id == X86_INS_CMP && x->op_count == 2 && x->operands[1].type == X86_OP_MEM &&
	       x->operands[1].mem.base == X86_REG_R14 &&
	       x->operands[1].mem.index == X86_REG_INVALID && x->operands[1].mem.disp == 16;
}

/*
 * Where f's body starts: past the prologue's stack check. A goroutine short
 * of stack jumps from that check to runtime.morestack, which copies the
 * stack and runs the function again from its first instruction, so a probe
 * there fires twice for one call (and Write's bytes would be parsed twice).
 * After the check's branch the arguments are still in their registers. A
 * function without a check (NOSPLIT) is probed at its entry.
 */
static uint64_t go_body_offset(struct go_func *f)
{
	const uint8_t *code = f->code;
	size_t left = f->size;
	uint64_t addr = f->off;
	bool compared = false;
	int i;

	for (i = 0; i < GO_PROLOGUE_INSNS && cs_disasm_iter(f->cs, &code, &left, &addr, f->insn);
	     i++) {
		if (compared)
			return f->insn->id == X86_INS_JBE ? addr : f->off;
		compared = is_stack_guard_cmp(f->insn);
	}
	return f->off;
}

static void fill_ssl(struct scan *s, struct tls_elf_info *info)
{
	size_t i;

	/* Both data calls, or it is not a TLS library we can follow. */
	if (!s->ssl[0].addr || !s->ssl[1].addr)
		return;
	/* Return probes first: see tls_probe.c, attach order. */
	for (i = 0; i < N_SSL; i++)
		if (s->ssl[i].addr)
			add_point(info, TLS_HOOK_SSL_RET, file_offset(s->elf, s->ssl[i].addr));
	for (i = 0; i < N_SSL; i++)
		if (s->ssl[i].addr)
			add_point(info, ssl_syms[i].hook, file_offset(s->elf, s->ssl[i].addr));
	info->lib = s->boringssl ? TLS_LIB_BORINGSSL : TLS_LIB_OPENSSL;
}

static void fill_go(struct scan *s, int fd, struct tls_elf_info *info)
{
	struct go_func f;
	size_t i;
	int err;

	if (!s->go[0].addr || !s->go[1].addr || !s->go[2].addr)
		return;
	/* The register ABI (arguments in RAX, RBX...) is Go 1.17's on amd64. */
	info->go_minor = go_minor_version(s->elf);
	if (info->go_minor < 17)
		return;
	for (i = 0; i < N_GO; i++) {
		if (go_func_open(&f, fd, file_offset(s->elf, s->go[i].addr), s->go[i].size))
			goto fail;
		/* Read's returns only: Write is parsed at its entry (kern/tls.bpf.c). */
		err = go_syms[i].hook == TLS_HOOK_GO_READ ? add_go_rets(&f, info) : 0;
		if (!err)
			err = add_point(info, go_syms[i].hook, go_body_offset(&f));
		go_func_close(&f);
		if (err)
			goto fail;
	}
	info->lib = TLS_LIB_GO;
	return;
fail:
	info->n_points = 0;
}

int tls_elf_inspect(const char *path, struct tls_elf_info *info)
{
	struct scan s = {};
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int fd, ret = 0;

	memset(info, 0, sizeof(*info));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	s.elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!s.elf || elf_kind(s.elf) != ELF_K_ELF) {
		ret = -ENOEXEC;
		goto cleanup;
	}
	while ((scn = elf_nextscn(s.elf, scn))) {
		if (gelf_getshdr(scn, &sh) &&
		    (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM))
			scan_symtab(&s, scn, &sh);
	}
	fill_ssl(&s, info);
	if (info->lib == TLS_LIB_NONE)
		fill_go(&s, fd, info);
	if (info->lib == TLS_LIB_NONE)
		info->n_points = 0;
cleanup:
	if (s.elf)
		elf_end(s.elf);
	close(fd);
	return ret;
}
