// SPDX-License-Identifier: GPL-2.0
/*
 * Small things the test programs do in a network namespace of their own.
 */
#include <stdio.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "esptcp_tnet.h"

int tnet_lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -1;
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	rc = rc ?: ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return rc;
}

long tnet_kernel_kb(void)
{
	char line[128];
	long kb, total = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1 || sscanf(line, "Percpu: %ld kB", &kb) == 1)
			total += kb;
	fclose(f);
	return total;
}
