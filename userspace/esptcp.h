/* SPDX-License-Identifier: GPL-2.0 */
/* esptcp tool: declarations shared by its files. */
#ifndef ESPTCP_TOOL_H
#define ESPTCP_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/esptcp.h>

#define ESPTCP_ULP		"esptcp"
#define ESPTCP_DEFAULT_PORT	"4500"
#define ESPTCP_PREFIX_LEN	6
#define ESPTCP_STATUS_DIR	"/run/esptcp"

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

/* conn.c */
int esptcp_resolve(const char *host, const char *port, int family,
		   struct sockaddr_storage *ss, socklen_t *len);
const char *esptcp_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
int esptcp_set_bypass(int fd, int family);
int esptcp_attach(int fd);
int esptcp_connect(const struct sockaddr_storage *peer, socklen_t plen);
int esptcp_listen(const struct sockaddr_storage *local, socklen_t llen);
int esptcp_accept(int lfd, struct sockaddr_storage *peer, int timeout_ms);

/* sa.c: SA specs on the command line, and the names things are printed by */
struct esptcp_sa_list {
	struct esptcp_sa *sa;
	size_t n;
};

int esptcp_parse_num(const char *s, uint64_t max, uint64_t *v);
int esptcp_sa_list_add(struct esptcp_sa_list *l, const char *arg, int dir);
/* getopt values of --in and --out, shared by the commands that take SAs */
enum { ESPTCP_OPT_IN = 256, ESPTCP_OPT_OUT };
int esptcp_sa_opt(int c, const char *arg, struct esptcp_sa_list *l, uint64_t *mark);
void esptcp_sa_list_set_mark(struct esptcp_sa_list *l, uint64_t mark);
void esptcp_sa_list_free(struct esptcp_sa_list *l);
void esptcp_sa_set_daddr(struct esptcp_sa *sa, int family, const void *addr);
const char *esptcp_inaddr_str(int family, const void *addr, char *buf, size_t len);
const char *esptcp_sa_str(const struct esptcp_sa *sa, char *buf, size_t len);
const char *esptcp_dir_name(unsigned int dir);
const char *esptcp_encap_name(unsigned int encap, char *buf, size_t len);
const char *esptcp_stat_name(unsigned int i);
void esptcp_sa_error(const char *what, const struct esptcp_sa *sa, int err,
		     const char *detail);

/* nl.c: the generic netlink family "esptcp" */
struct esptcp_nl;

/* a socket named by a descriptor of ours (fd >= 0) or by its inode number */
struct esptcp_sock_ref {
	int fd;
	uint64_t ino;
};

struct esptcp_binding {
	struct esptcp_sa sa;
	uint16_t encap;
};

struct esptcp_sock_info {
	uint64_t ino;
	uint16_t family;
	uint8_t local[16];
	uint8_t remote[16];
	uint16_t lport;
	uint16_t rport;
	struct esptcp_binding *sas;
	size_t nsas;
	int has_stats;
	uint64_t stats[ESPTCP_STAT_MAX];
	uint32_t queued;	/* ESP memory queued for TCP (truesize) */
};

struct esptcp_nl *esptcp_nl_open(void);
void esptcp_nl_close(struct esptcp_nl *nl);
const char *esptcp_nl_ext_msg(const struct esptcp_nl *nl);
int esptcp_nl_sa_bind(struct esptcp_nl *nl, const struct esptcp_sock_ref *ref,
		      const struct esptcp_sa *sa);
int esptcp_nl_sa_unbind(struct esptcp_nl *nl, const struct esptcp_sock_ref *ref,
			const struct esptcp_sa *sa);
int esptcp_nl_sock_dump(struct esptcp_nl *nl, struct esptcp_sock_info **socks, size_t *n);
void esptcp_sock_info_free(struct esptcp_sock_info *socks, size_t n);
int esptcp_nl_stats_get(struct esptcp_nl *nl, uint64_t stats[ESPTCP_STAT_MAX]);

/* static.c */
int esptcp_connect_main(int argc, char **argv);
int esptcp_listen_main(int argc, char **argv);

/* admin.c */
int esptcp_bind_main(int argc, char **argv);
int esptcp_unbind_main(int argc, char **argv);
int esptcp_show_main(int argc, char **argv);
int esptcp_stats_main(int argc, char **argv);

#endif
