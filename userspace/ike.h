/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esptcp tool: the IKEv2 helper (RFC 7296 over RFC 9329 TCP or UDP).
 *
 * This header is the helper's lower half, with no state of its own:
 * ike_msg.c parses and builds messages, ike_crypto.c holds every use of
 * libcrypto, ike_keys.c derives key material, ike_conf.c reads the
 * configuration and xfrm.c talks XFRM netlink.  ike_select.h (choices) and
 * ike_sa.h (SAs, exchanges, links, the daemon) build on it; the layers are
 * described in Documentation/esptcp.rst, "The IKE helper".  Everything
 * runs on one thread around one epoll loop.
 */
#ifndef ESPTCP_IKE_H
#define ESPTCP_IKE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ike_eap.h"

/* RFC 7296 numbers, only those this implementation uses */
#define IKE_HDR_LEN		28
#define IKE_VERSION		0x20
#define IKE_FLAG_I		0x08
#define IKE_FLAG_V		0x10
#define IKE_FLAG_R		0x20
#define IKE_MAX_MSG		65535
#define IKE_NONCE_LEN		32
#define IKE_MAX_KEY		64

enum ike_exchange {
	IKE_SA_INIT = 34,
	IKE_AUTH = 35,
	CREATE_CHILD_SA = 36,
	INFORMATIONAL = 37,
};

enum ike_payload {
	PL_NONE = 0,
	PL_SA = 33,
	PL_KE = 34,
	PL_IDI = 35,
	PL_IDR = 36,
	PL_CERT = 37,
	PL_CERTREQ = 38,
	PL_AUTH = 39,
	PL_NONCE = 40,
	PL_NOTIFY = 41,
	PL_DELETE = 42,
	PL_VENDOR = 43,
	PL_TSI = 44,
	PL_TSR = 45,
	PL_SK = 46,
	PL_CP = 47,
	PL_EAP = 48,
	PL_SKF = 53,
};

enum ike_notify {
	N_UNSUPPORTED_CRITICAL_PAYLOAD = 1,
	N_INVALID_IKE_SPI = 4,
	N_INVALID_MAJOR_VERSION = 5,
	N_INVALID_SYNTAX = 7,
	N_INVALID_MESSAGE_ID = 9,
	N_INVALID_SPI = 11,
	N_NO_PROPOSAL_CHOSEN = 14,
	N_INVALID_KE_PAYLOAD = 17,
	N_AUTHENTICATION_FAILED = 24,
	N_NO_ADDITIONAL_SAS = 35,
	N_INTERNAL_ADDRESS_FAILURE = 36,
	N_TS_UNACCEPTABLE = 38,
	N_TEMPORARY_FAILURE = 43,
	N_CHILD_SA_NOT_FOUND = 44,
	N_ERROR_MAX = 16383,
	N_INITIAL_CONTACT = 16384,
	N_NAT_DETECTION_SOURCE_IP = 16388,
	N_NAT_DETECTION_DESTINATION_IP = 16389,
	N_COOKIE = 16390,
	N_USE_TRANSPORT_MODE = 16391,
	N_REKEY_SA = 16393,
	N_ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
	N_NON_FIRST_FRAGMENTS_ALSO = 16395,
	N_MOBIKE_SUPPORTED = 16396,
	N_UPDATE_SA_ADDRESSES = 16400,
	N_COOKIE2 = 16401,
	N_IKEV2_FRAGMENTATION_SUPPORTED = 16430,
	N_SIGNATURE_HASH_ALGORITHMS = 16431,
	/* private use (RFC 7296 3.10.1): a warm standby TCP connection, ike_standby.c */
	N_ESPTCP_TCP_STANDBY = 40970,
};

enum ike_proto { PROTO_IKE = 1, PROTO_AH = 2, PROTO_ESP = 3 };

enum ike_transform_type {
	TT_ENCR = 1,
	TT_PRF = 2,
	TT_INTEG = 3,
	TT_DH = 4,
	TT_ESN = 5,
};

#define ENCR_AES_CBC		12
#define ENCR_AES_GCM_16		20
#define ENCR_CHACHA20_POLY1305	28
#define PRF_HMAC_SHA2_256	5
#define PRF_HMAC_SHA2_384	6
#define PRF_HMAC_SHA2_512	7
#define AUTH_HMAC_SHA2_256_128	12
#define AUTH_HMAC_SHA2_384_192	13
#define AUTH_HMAC_SHA2_512_256	14
#define DH_MODP_2048		14
#define DH_MODP_3072		15
#define DH_MODP_4096		16
#define DH_ECP_256		19
#define DH_ECP_384		20
#define DH_CURVE25519		31
#define ATTR_KEY_LENGTH		14
#define AUTH_SHARED_KEY_MIC	2

enum ike_id_type {
	ID_IPV4_ADDR = 1,
	ID_FQDN = 2,
	ID_RFC822_ADDR = 3,
	ID_IPV6_ADDR = 5,
	ID_KEY_ID = 11,
};

#define TS_IPV4_ADDR_RANGE	7
#define TS_IPV6_ADDR_RANGE	8

/* ---- socket addresses (IPv4 or IPv6 in a sockaddr_storage) ---- */

static inline size_t ike_ss_alen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? 4 : 16;
}

static inline const uint8_t *ike_ss_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static inline uint16_t ike_ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static inline void ike_ss_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static inline socklen_t ike_ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	       sizeof(struct sockaddr_in6);
}

/* same family and address; ports are not compared */
static inline bool ike_ss_same_addr(const struct sockaddr_storage *a,
				    const struct sockaddr_storage *b)
{
	return a->ss_family == b->ss_family &&
	       !memcmp(ike_ss_addr(a), ike_ss_addr(b), ike_ss_alen(a));
}

/* same family, address and port */
static inline bool ike_ss_equal(const struct sockaddr_storage *a,
				const struct sockaddr_storage *b)
{
	return ike_ss_same_addr(a, b) && ike_ss_port(a) == ike_ss_port(b);
}

/* ---- ike_msg.c: the wire format ---- */

struct ike_hdr {
	uint64_t spi_i;
	uint64_t spi_r;
	uint8_t next;
	uint8_t version;
	uint8_t exchange;
	uint8_t flags;
	uint32_t msgid;
	uint32_t length;
};

#define IKE_MAX_PAYLOADS	32

struct ike_pl {
	uint8_t type;
	bool critical;
	const uint8_t *data;	/* body, after the 4-byte generic header */
	size_t len;
};

struct ike_msg {
	struct ike_hdr hdr;
	const uint8_t *raw;	/* the whole message */
	size_t raw_len;
	struct ike_pl pl[IKE_MAX_PAYLOADS];
	unsigned int npl;
	/* the SK payload's place in raw, when there is one */
	size_t sk_off;		/* offset of its generic header */
	uint8_t sk_first;	/* first inner payload type */
	bool skf;		/* it is an Encrypted Fragment payload (RFC 7383) */
	uint16_t frag_num, frag_total;
	uint8_t *plain;		/* decrypted inner payloads (owned) */
	size_t plain_len;
	/* set when a critical payload of unknown type was found */
	uint8_t unknown_critical;
};

/* one proposal's choice: one transform id per type (0 = none) */
struct ike_suite {
	uint16_t encr;
	uint16_t keylen;	/* bits */
	uint16_t prf;
	uint16_t integ;
	uint16_t dh;
	uint16_t esn;		/* ESP: 1 = extended sequence numbers (RFC 4304) */
};

struct ike_ts {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t proto;
	uint16_t sport, eport;
	uint8_t start[16], end[16];
};

/* the length of the prefix a selector's range has in common */
static inline uint8_t ike_ts_prefix(const struct ike_ts *ts)
{
	unsigned int alen = ts->family == AF_INET ? 4 : 16;
	uint8_t bits = 0;

	for (unsigned int i = 0; i < alen * 8; i++) {
		unsigned int byte = i / 8, bit = 0x80 >> (i % 8);

		if ((ts->start[byte] & bit) != (ts->end[byte] & bit))
			break;
		bits++;
	}
	return bits;
}

/* a selector's range from an address and a prefix length: the byte mask of byte i */
static inline uint8_t ike_prefix_mask(unsigned int bits, unsigned int i)
{
	unsigned int b = bits > i * 8 ? (bits - i * 8 >= 8 ? 8 : bits - i * 8) : 0;

	return (uint8_t)(0xff00 >> b);
}

static inline void ike_ts_set_prefix(struct ike_ts *t, const uint8_t *addr, unsigned int bits)
{
	unsigned int alen = t->family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < alen; i++) {
		t->start[i] = addr[i] & ike_prefix_mask(bits, i);
		t->end[i] = addr[i] | (uint8_t)~ike_prefix_mask(bits, i);
	}
}

/* the selectors of one side of a CHILD_SA or of a conn (RFC 7296 2.9) */
#define IKE_MAX_TS	8
struct ike_ts_set {
	unsigned int n;
	struct ike_ts ts[IKE_MAX_TS];
};

/* the Configuration payload (RFC 7296 3.15): what a client asks for and
 * what a gateway gives it */
enum { CFG_REQUEST = 1, CFG_REPLY = 2, CFG_SET = 3, CFG_ACK = 4 };
enum {
	CA_INTERNAL_IP4_ADDRESS = 1,
	CA_INTERNAL_IP4_NETMASK = 2,
	CA_INTERNAL_IP4_DNS = 3,
	CA_INTERNAL_IP6_ADDRESS = 8,
	CA_INTERNAL_IP6_DNS = 10,
	CA_INTERNAL_IP4_SUBNET = 13,
	CA_SUPPORTED_ATTRIBUTES = 14,
	CA_INTERNAL_IP6_SUBNET = 15,
};

#define IKE_MAX_CFG_DNS	4
struct ike_cfg {
	uint8_t type;			/* CFG_* */
	/* a request: which attributes were named (with or without a value) */
	bool ask_ip4, ask_ip6, ask_dns4, ask_dns6;
	/* the values: a reply's, or a request's preferred address */
	bool has_ip4, has_ip6;
	uint8_t ip4[4], ip6[16];
	uint8_t ip6_prefix;
	unsigned int ndns4, ndns6;
	uint8_t dns4[IKE_MAX_CFG_DNS][4], dns6[IKE_MAX_CFG_DNS][16];
	struct ike_ts_set subnets;	/* INTERNAL_IP4/6_SUBNET: the split list */
};

int ike_parse_cp(const struct ike_pl *pl, struct ike_cfg *cfg);
void ike_id_format(uint8_t type, const uint8_t *body, size_t len, char *buf, size_t size);

/* a buffer that grows as a message is built; oom sets err */
struct ike_buf {
	uint8_t *p;
	size_t len, cap;
	bool err;
};

int ike_parse(struct ike_msg *m, const uint8_t *buf, size_t len);
int ike_parse_inner(struct ike_msg *m, const uint8_t *plain, size_t len);
void ike_msg_free(struct ike_msg *m);
const struct ike_pl *ike_find(const struct ike_msg *m, uint8_t type);
const struct ike_pl *ike_find_notify(const struct ike_msg *m, uint16_t type);
int ike_notify_type(const struct ike_pl *pl, uint16_t *type);
unsigned int ike_get_sighashes(const struct ike_msg *m);
int ike_unhex(const char *v, uint8_t *out, size_t max, size_t *len);
const uint8_t *ike_notify_data(const struct ike_pl *pl, size_t *len);
int ike_notify_spi(const struct ike_pl *pl, uint8_t *proto, uint32_t *spi);

/* SA payloads: parse a payload into proposals; selection against ours */
#define IKE_MAX_PROPOSALS	16
struct ike_proposal {
	uint8_t num;
	uint8_t proto;
	uint8_t spi_len;
	uint8_t spi[8];
	/* every transform offered, per type, up to 16 each */
	uint16_t ids[6][16];
	uint16_t keylens[6][16];
	uint8_t nids[6];
};

int ike_parse_sa(const struct ike_pl *pl, struct ike_proposal *props, unsigned int *n);
bool ike_proposal_has(const struct ike_proposal *p, const struct ike_suite *s);
int ike_parse_ts(const struct ike_pl *pl, struct ike_ts *ts, unsigned int *n, unsigned int max);

void ike_buf_init(struct ike_buf *b);
void ike_buf_free(struct ike_buf *b);
void ike_put(struct ike_buf *b, const void *p, size_t len);
void ike_put8(struct ike_buf *b, uint8_t v);
void ike_put16(struct ike_buf *b, uint16_t v);
void ike_put32(struct ike_buf *b, uint32_t v);
void ike_put64(struct ike_buf *b, uint64_t v);
void ike_set16(struct ike_buf *b, size_t off, uint16_t v);
void ike_set32(struct ike_buf *b, size_t off, uint32_t v);

/*
 * Payload building: ike_pl_begin writes a generic header whose next-payload
 * is patched when the following payload begins (or at ike_pl_end_chain).
 */
struct ike_chain {
	struct ike_buf *b;
	size_t next_off;	/* where the previous "next payload" byte is */
	size_t cur;		/* offset of the open payload's header */
	bool open;
	bool any;		/* a payload was begun; first is its type */
	uint8_t first;
};

void ike_chain_init(struct ike_chain *c, struct ike_buf *b, size_t next_off);
void ike_pl_begin(struct ike_chain *c, uint8_t type);
void ike_pl_end(struct ike_chain *c);
void ike_pl_notify(struct ike_chain *c, uint8_t proto, const uint8_t *spi, size_t spi_len,
		   uint16_t type, const void *data, size_t len);
void ike_pl_sa(struct ike_chain *c, uint8_t proto, const struct ike_suite *s, size_t ns,
	       const uint8_t *spi, size_t spi_len, const uint8_t *nums);
void ike_pl_ts(struct ike_chain *c, uint8_t type, const struct ike_ts *ts, unsigned int n);
void ike_pl_cp(struct ike_chain *c, const struct ike_cfg *cfg);
void ike_hdr_put(struct ike_buf *b, const struct ike_hdr *h);
void ike_hdr_finish(struct ike_buf *b);

/* ---- ike_crypto.c ---- */

struct ike_dh;

struct ike_keys {
	size_t prf_len, integ_len, encr_len, icv_len, iv_len, block;
	uint8_t sk_d[IKE_MAX_KEY];
	uint8_t sk_ai[IKE_MAX_KEY], sk_ar[IKE_MAX_KEY];
	uint8_t sk_ei[IKE_MAX_KEY], sk_er[IKE_MAX_KEY];
	uint8_t sk_pi[IKE_MAX_KEY], sk_pr[IKE_MAX_KEY];
};

int ike_random(void *buf, size_t len);
struct ike_sip;
struct ike_sip *ike_sip_new(void);
struct ike_sip *ike_sip_new_mac(const char *mac);
uint64_t ike_sip(struct ike_sip *s, const void *p, size_t len);
void ike_sip_free(struct ike_sip *s);
size_t ike_prf_len(uint16_t prf);
int ike_prf(uint16_t prf, const void *key, size_t klen, const void *data, size_t len,
	    uint8_t *out);
int ike_prf_plus(uint16_t prf, const void *key, size_t klen, const uint8_t *seed,
		 size_t slen, uint8_t *out, size_t olen);
size_t ike_ke_len(uint16_t group);
int ike_dh_check(uint16_t group, const uint8_t *peer, size_t plen);
struct ike_dh *ike_dh_new(uint16_t group);
void ike_dh_free(struct ike_dh *dh);
int ike_dh_public(struct ike_dh *dh, uint8_t *out, size_t len);
int ike_dh_shared(struct ike_dh *dh, const uint8_t *peer, size_t plen,
		  uint8_t *out, size_t *olen);
int ike_suite_keylens(const struct ike_suite *s, struct ike_keys *k);
int ike_derive_ike_keys(const struct ike_suite *s, const uint8_t *skeyseed, size_t sklen,
			const uint8_t *ni, size_t nilen, const uint8_t *nr, size_t nrlen,
			uint64_t spi_i, uint64_t spi_r, struct ike_keys *k);
/* the SK payload: seal into b (which holds header + payloads up to SK), open */
int ike_sk_seal(const struct ike_suite *s, const struct ike_keys *k, bool initiator,
		struct ike_buf *b, size_t sk_off, const uint8_t *plain, size_t plen);
int ike_sk_open(const struct ike_suite *s, const struct ike_keys *k, bool from_initiator,
		const uint8_t *msg, size_t msg_len, size_t sk_off, uint8_t **plain,
		size_t *plen);
int ike_skx_seal(const struct ike_suite *s, const struct ike_keys *k, bool initiator,
		 struct ike_buf *b, size_t sk_off, size_t hlen, const uint8_t *plain, size_t plen);
int ike_skx_open(const struct ike_suite *s, const struct ike_keys *k, bool from_initiator,
		 const uint8_t *msg, size_t msg_len, size_t sk_off, size_t hlen, uint8_t **plain,
		 size_t *plen);
/* ESP key material sizes and xfrm algorithm names */
int ike_esp_keylen(const struct ike_suite *s, size_t *enc, size_t *integ);
int ike_esp_xfrm_algs(const struct ike_suite *s, const char **encr, const char **integ,
		      unsigned int *bits);
int ike_nat_hash(uint64_t spi_i, uint64_t spi_r, const struct sockaddr_storage *ss,
		 uint8_t out[20]);
int ike_cookie_hash(const uint8_t *secret, const uint8_t *ni, size_t nilen,
		    const struct sockaddr_storage *ss, uint64_t spi_i, uint8_t out[32]);
void ike_wipe(void *p, size_t len);
bool ike_memeq(const void *a, const void *b, size_t len);
int ike_sha256(const void *p, size_t len, uint8_t out[32]);

/* ---- ike_keys.c: key material (pure) ---- */

/* a byte string that a function reads */
struct ike_bytes {
	const uint8_t *p;
	size_t len;
};

#define IKE_BYTES(ptr, n)	((struct ike_bytes){ .p = (const uint8_t *)(ptr), .len = (n) })

int ike_skeyseed(uint16_t prf, struct ike_bytes ni, struct ike_bytes nr, struct ike_bytes gir,
		 uint8_t *out);
int ike_skeyseed_rekey(uint16_t prf, struct ike_bytes sk_d, struct ike_bytes gir,
		       struct ike_bytes ni, struct ike_bytes nr, uint8_t *out);
int ike_child_keymat(uint16_t prf, struct ike_bytes sk_d, struct ike_bytes gir,
		     struct ike_bytes ni, struct ike_bytes nr, size_t one, uint8_t *i2r,
		     uint8_t *r2i);
int ike_signed_octets(uint16_t prf, struct ike_bytes sk_p, struct ike_bytes real,
		      struct ike_bytes nonce, struct ike_bytes id, struct ike_buf *out);
int ike_shared_key_mac(uint16_t prf, struct ike_bytes key, struct ike_bytes octets, uint8_t *out);
int ike_psk_auth(uint16_t prf, struct ike_bytes psk, struct ike_bytes sk_p,
		 struct ike_bytes real, struct ike_bytes nonce, struct ike_bytes id,
		 uint8_t *out);

/* ---- ike_conf.c ---- */

enum ike_transport { TRANSPORT_TCP, TRANSPORT_UDP, TRANSPORT_FALLBACK };
enum ike_auth_method { AUTHM_PSK, AUTHM_PUBKEY, AUTHM_EAP };

struct ike_creds;

#define IKE_MAX_SUITES 8
#define IKE_PSK_MIN	20	/* shorter pre-shared keys draw a warning */
#define IKE_DEFAULT_IKE	"aes128gcm16-prfsha256-ecp256, aes256gcm16-prfsha384-ecp384, " \
			"aes128-sha256-modp2048, aes256-sha256-modp2048, " \
			"chacha20poly1305-prfsha256-curve25519"
#define IKE_DEFAULT_ESP	"aes128gcm16, aes256gcm16, aes128-sha256, aes256-sha256, chacha20poly1305"

#define IKE_MAX_PORTS	4	/* TCP ports of a conn (port = 4500, 443) */
#define IKE_MAX_INSTANCES	60000	/* a load generator conn's IKE SAs */

struct ike_conn_conf {
	char name[64];
	bool initiator;
	enum ike_transport transport;
	int family;
	struct sockaddr_storage local;	/* port: where the responder listens */
	struct sockaddr_storage remote;	/* any address on a responder: remote-any */
	bool remote_any;
	bool local_any;		/* initiator: routing picks the source, which may change */
	uint16_t tcp_port;		/* the first of tcp_ports */
	uint16_t tcp_ports[IKE_MAX_PORTS];	/* a responder listens on all, an */
	unsigned int ntcp_ports;		/* initiator tries them in turn */
	uint16_t udp_port;
	uint8_t local_id_type, remote_id_type;
	char local_id[256], remote_id[256];
	size_t local_id_len, remote_id_len;
	/* remote-id = %any, or a pattern with '*' (fnmatch): many clients, one conn */
	bool remote_id_any, remote_id_glob;
	uint8_t psk[256];
	size_t psk_len;
	/* how each side proves itself: AUTHM_PSK, or AUTHM_PUBKEY (X.509) */
	uint8_t local_auth, remote_auth;
	char cert[256], key[256], ca[256], crl[256];	/* PEM paths */
	struct ike_creds *creds;	/* loaded from them (ike_cert.h) */
	/* EAP-MSCHAPv2: a gateway's users and the group they must be in */
	char users_path[256];
	struct ike_users *users;
	char eap_group[64];
	/* or the EAP relayed to a RADIUS server (RFC 3579) */
	bool radius_set;
	struct sockaddr_storage radius;
	uint8_t radius_secret[128];
	size_t radius_secret_len;
	/* a client's EAP identity and its password's NT hash */
	char eap_identity[IKE_EAP_ID_MAX];
	uint8_t eap_nt_hash[16];
	bool eap_secret;
	struct ike_ts_set local_ts, remote_ts;
	struct ike_suite ike[IKE_MAX_SUITES];
	size_t nike;
	struct ike_suite esp[IKE_MAX_SUITES];
	size_t nesp;
	unsigned int ike_rekey_s, child_rekey_s;
	unsigned int dpd_s, dpd_timeout_s;
	unsigned int retry_s;		/* initiator: back-off base to restart */
	/*
	 * A load generator's: this many IKE SAs of the conn at once, each an
	 * instance with its own identity (%u in local-id: its number) and
	 * connection, started at start_rate a second (0: all at once);
	 * install = no keeps their CHILD_SAs out of the kernel
	 */
	unsigned int instances;
	unsigned int start_rate;
	bool install;
	bool encap_force;		/* UDP: ESP in UDP even without NAT */
	bool tunnel;			/* else transport mode */
	/* udp-fallback-tcp */
	unsigned int fallback_ms;	/* no IKE_SA_INIT answer over UDP: TCP */
	unsigned int udp_timeout_ms;	/* UDP silent this long while busy: TCP */
	bool mobike;			/* negotiate MOBIKE; probe UDP from TCP */
	unsigned int probe_s;		/* how often, on TCP, to try UDP again */
	unsigned int keepalive_s;	/* NAT keepalives behind a NAT on UDP; 0 = none */
	unsigned int udp_quiet_ms;	/* inbound ESP quiet this long: check the path */
	unsigned int return_checks;	/* answered checks over UDP before moving back */
	bool standby;			/* keep (or take) a warm standby TCP connection */
	/* a gateway's virtual addresses for its clients (pool =, dns =) */
	bool pool_set;
	uint8_t pool_family;
	uint8_t pool_first[16], pool_last[16];
	unsigned int ndns4, ndns6;
	uint8_t dns4[IKE_MAX_CFG_DNS][4], dns6[IKE_MAX_CFG_DNS][16];
	unsigned int lease_grace_s;	/* a released address stays its identity's */
	/* a client's: vip = yes asks the gateway for an address (and DNS) */
	bool vip;
	char vip_dev[16];		/* where the address goes (IFNAMSIZ) */
	uint32_t route_table;		/* routes to the gateway's selectors */
	char updown[256];		/* a script run on CHILD_SA up, down, move */
	unsigned int fragment_size;	/* UDP datagrams of IKE up to this (IP); 0: never cut */
};

struct ike_conf {
	struct ike_conn_conf *conns;
	size_t nconns;
	unsigned int half_open_max;
	unsigned int half_open_per_source;	/* and unauthenticated TCP connections */
	unsigned int cookie_threshold;
	unsigned int half_open_timeout_s;
	unsigned int standby_max;	/* a gateway's standby TCP connections, all conns */
	uint32_t reqid_base;
	char ulp[16];
	char status_dir[128];
	char lease_file[256];		/* a gateway's leases across restarts */
};

int ike_conf_load(const char *path, struct ike_conf *conf);
void ike_conf_free(struct ike_conf *conf);
int ike_parse_suites(const char *s, bool ike, struct ike_suite *out, size_t *n);
const char *ike_suite_str(const struct ike_suite *s, bool ike, char *buf, size_t len);

/* ---- xfrm.c ---- */

struct xfrm_nl;

struct xfrm_child {
	int family;
	uint8_t local[16], remote[16];	/* outer addresses */
	uint32_t spi_in, spi_out;	/* network order */
	uint32_t reqid;
	struct ike_suite suite;
	uint8_t key_in[IKE_MAX_KEY * 2], key_out[IKE_MAX_KEY * 2];
	size_t enc_len, integ_len;
	uint16_t encap_sport, encap_dport;	/* host order; 0 = plain ESP */
	struct ike_ts_set local_ts, remote_ts;
	bool tunnel;
	unsigned int hard_s;
};

/* an XFRM_MSG_MAPPING: an inbound state's peer seen at a new address or port */
struct xfrm_mapping {
	int family;
	uint32_t spi, reqid;		/* network order; host order */
	uint8_t daddr[16];
	uint8_t old_addr[16], new_addr[16];
	uint16_t old_port, new_port;	/* host order */
};

struct xfrm_nl *xfrm_open(void);
struct xfrm_nl *xfrm_open_mappings(void);
int xfrm_fd(const struct xfrm_nl *x);
int xfrm_read_mappings(struct xfrm_nl *x, void (*cb)(const struct xfrm_mapping *m, void *data),
		       void *data);
void xfrm_close(struct xfrm_nl *x);
int xfrm_alloc_spi(struct xfrm_nl *x, int family, const uint8_t *src, const uint8_t *dst,
		   uint32_t reqid, uint32_t *spi);
int xfrm_add_states(struct xfrm_nl *x, const struct xfrm_child *c);
int xfrm_del_state(struct xfrm_nl *x, int family, const uint8_t *daddr, uint32_t spi);
int xfrm_add_policies(struct xfrm_nl *x, const struct xfrm_child *c, bool replace);
int xfrm_pair_add(struct xfrm_nl *x, const struct xfrm_child *c, unsigned int i, unsigned int j,
		  bool replace);
int xfrm_pair_del(struct xfrm_nl *x, const struct xfrm_child *c, unsigned int i, unsigned int j);
int xfrm_del_policies(struct xfrm_nl *x, const struct xfrm_child *c);
int xfrm_migrate_child(struct xfrm_nl *x, const struct xfrm_child *o, const struct xfrm_child *n);
int xfrm_flush_owned(struct xfrm_nl *x, uint32_t reqid_base, uint32_t reqid_mask);
struct xfrm_counts {
	uint64_t packets, bytes;
};

int xfrm_state_counts(struct xfrm_nl *x, int family, const uint8_t *daddr, uint32_t spi,
		      struct xfrm_counts *counts);

/* a state of a dump: where it goes, its SPI and reqid, what it processed */
struct xfrm_state_seen {
	int family;
	uint8_t daddr[16];
	uint32_t spi;		/* network order */
	uint32_t reqid;
	struct xfrm_counts c;
};

int xfrm_states_counts(struct xfrm_nl *x, uint32_t reqid_base, uint32_t reqid_mask,
		       void (*cb)(const struct xfrm_state_seen *st, void *data), void *data);

/* ---- ike_daemon.c ---- */

int esptcp_ike_main(int argc, char **argv);

#endif
