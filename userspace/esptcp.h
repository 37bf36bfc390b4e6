/* SPDX-License-Identifier: GPL-2.0 */
/* esptcp tool: declarations shared by its files. */
#ifndef ESPTCP_TOOL_H
#define ESPTCP_TOOL_H

#include <stddef.h>
#include <sys/socket.h>

#define ESPTCP_ULP		"esptcp"
#define ESPTCP_DEFAULT_PORT	"4500"
#define ESPTCP_PREFIX_LEN	6

/* conn.c */
int esptcp_resolve(const char *host, const char *port, int family,
		   struct sockaddr_storage *ss, socklen_t *len);
const char *esptcp_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
int esptcp_set_bypass(int fd, int family);
int esptcp_attach(int fd);
int esptcp_connect(const struct sockaddr_storage *peer, socklen_t plen);
int esptcp_listen(const struct sockaddr_storage *local, socklen_t llen);
int esptcp_accept(int lfd, struct sockaddr_storage *peer, int timeout_ms);

/* static.c */
int esptcp_connect_main(int argc, char **argv);
int esptcp_listen_main(int argc, char **argv);

#endif
