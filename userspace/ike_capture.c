// SPDX-License-Identifier: GPL-2.0
/*
 * Captured messages for the parser's fuzzer: with ESPTCP_CAPTURE set to a
 * folder, every IKE message the helper accepts is written there, one file
 * each, as the parser sees it - IKE_SA_INIT as it came, the others with
 * their SK payload replaced by its decrypted payloads.  The interop tests
 * make the corpus in userspace/fuzz/corpus this way (esptcp(8), ENVIRONMENT).
 * The files hold what the peers sent in the clear inside the SK payload
 * (identities, AUTH, EAP): a debugging aid, written mode 0600.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ike.h"

static const char *capture_dir(void)
{
	static const char *dir;
	static bool looked;

	if (!looked) {
		dir = getenv("ESPTCP_CAPTURE");
		if (dir && !*dir)
			dir = NULL;
		looked = true;
	}
	return dir;
}

/**
 * ike_capture() - write one accepted message to the capture folder
 * @m: the message, parsed (and, with an SK payload, decrypted)
 */
void ike_capture(const struct ike_msg *m)
{
	static unsigned int n;
	const char *dir = capture_dir();
	uint8_t hdr[IKE_HDR_LEN];
	char path[512];
	size_t body;
	int fd;

	if (!dir || m->raw_len < IKE_HDR_LEN)
		return;
	snprintf(path, sizeof(path), "%s/%u-%u-x%u-%s", dir, (unsigned int)getpid(), n++,
		 m->hdr.exchange, m->hdr.flags & IKE_FLAG_R ? "r" : "q");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	memcpy(hdr, m->raw, IKE_HDR_LEN);
	if (m->plain) {
		/* the header, then the inner payloads where the SK payload was */
		uint32_t len;

		hdr[16] = m->sk_first;
		body = m->plain_len;
		len = htonl(IKE_HDR_LEN + body);
		memcpy(hdr + 24, &len, 4);
		if (write(fd, hdr, IKE_HDR_LEN) != IKE_HDR_LEN ||
		    write(fd, m->plain, body) != (ssize_t)body)
			unlink(path);
	} else if (write(fd, m->raw, m->raw_len) != (ssize_t)m->raw_len) {
		unlink(path);
	}
	close(fd);
}
