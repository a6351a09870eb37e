# libcrypto.a and libssl.a from Debian's BoringSSL source package
# (android-platform-external-boringssl), for the TLS tests' client linked
# statically against BoringSSL: Debian ships BoringSSL shared only. Run by
# build.sh in the unpacked source, whose debian/sources.mk lists the files.
#
#     make -f static.mk O=OUTDIR
#
# Compiled as an application vendoring BoringSSL would: -O2, no LTO, the
# API's symbols left global. Only what the test client (tls_client.c)
# links is compiled: the files below are the members of a full build that
# its link map left out (a changed client that needs one fails to link,
# naming the symbol). Of 286 objects, 232 remain.
include debian/sources.mk

UNNEEDED := \
	linux-x86_64/crypto/cipher_extra/aes128gcmsiv-x86_64.S \
	linux-x86_64/crypto/fipsmodule/p256-x86_64-asm.S \
	linux-x86_64/crypto/fipsmodule/p256_beeu-x86_64-asm.S \
	linux-x86_64/crypto/test/trampoline-x86_64.S \
	src/crypto/asn1/a_bool.c src/crypto/asn1/a_print.c src/crypto/asn1/f_string.c \
	src/crypto/bio/bio_mem.c src/crypto/bio/connect.c src/crypto/bio/pair.c \
	src/crypto/cipher_extra/cipher_extra.c src/crypto/cipher_extra/e_aesctrhmac.c \
	src/crypto/cipher_extra/e_aesgcmsiv.c \
	src/crypto/cpu_aarch64_apple.c src/crypto/cpu_aarch64_fuchsia.c \
	src/crypto/cpu_aarch64_linux.c src/crypto/cpu_aarch64_win.c src/crypto/cpu_arm.c \
	src/crypto/cpu_arm_linux.c src/crypto/cpu_ppc64le.c \
	src/crypto/curve25519/spake25519.c src/crypto/dh_extra/params.c \
	src/crypto/ec_extra/ec_derive.c src/crypto/ec_extra/hash_to_curve.c \
	src/crypto/evp/scrypt.c src/crypto/evp/sign.c \
	src/crypto/fipsmodule/fips_shared_support.c src/crypto/hrss/asm/poly_rq_mul.S \
	src/crypto/poly1305/poly1305.c src/crypto/poly1305/poly1305_arm.c \
	src/crypto/rand_extra/deterministic.c src/crypto/rand_extra/fuchsia.c \
	src/crypto/rand_extra/passive.c src/crypto/rand_extra/rand_extra.c \
	src/crypto/rand_extra/windows.c src/crypto/refcount_lock.c \
	src/crypto/rsa_extra/rsa_print.c src/crypto/thread.c src/crypto/thread_none.c \
	src/crypto/thread_win.c \
	src/crypto/trust_token/pmbtoken.c src/crypto/trust_token/trust_token.c \
	src/crypto/trust_token/voprf.c \
	src/crypto/x509/t_crl.c src/crypto/x509/t_req.c src/crypto/x509/x509_txt.c \
	src/crypto/x509/x509rset.c src/crypto/x509/x509spki.c \
	src/ssl/bio_ssl.cc src/ssl/d1_pkt.cc src/ssl/dtls_method.cc src/ssl/handoff.cc \
	src/ssl/ssl_file.cc src/ssl/ssl_stat.cc

CRYPTO := $(filter-out $(UNNEEDED),$(crypto_sources) $(linux_x86_64_sources))
SSL := $(filter-out $(UNNEEDED),$(ssl_sources))
CRYPTO_OBJS := $(patsubst %,$(O)/obj/%.o,$(CRYPTO))
SSL_OBJS := $(patsubst %,$(O)/obj/%.o,$(SSL))

FLAGS := -O2 -DNDEBUG -DBORINGSSL_IMPLEMENTATION -DOPENSSL_SMALL -fno-strict-aliasing \
	-Isrc/include -Isrc/crypto -Wa,--noexecstack

all: $(O)/lib/libcrypto.a $(O)/lib/libssl.a

$(O)/lib/libcrypto.a: $(CRYPTO_OBJS)
	@mkdir -p $(@D)
	ar rcs $@ $^

$(O)/lib/libssl.a: $(SSL_OBJS)
	@mkdir -p $(@D)
	ar rcs $@ $^

$(O)/obj/%.c.o: %.c
	@mkdir -p $(@D)
	clang -std=gnu11 $(FLAGS) -c -o $@ $<

$(O)/obj/%.S.o: %.S
	@mkdir -p $(@D)
	clang $(FLAGS) -c -o $@ $<

$(O)/obj/%.cc.o: %.cc
	@mkdir -p $(@D)
	clang++ -std=gnu++2a -fno-exceptions -fno-rtti $(FLAGS) -c -o $@ $<
