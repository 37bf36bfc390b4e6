#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# An updown script for esptcp ike (updown = /etc/esptcp/updown.sh in a
# conn; esptcp.conf(5) lists the variables).  It logs each event and, on a
# client that was given DNS servers, hands them to resolvconf when that is
# installed (and takes them back on down).  A failure here is logged by the
# helper and leaves the tunnel as it is.

iface="esptcp.${ESPTCP_CONN:-conn}"

logger -t esptcp-updown "$1: conn $ESPTCP_CONN peer $ESPTCP_PEER_ID at $ESPTCP_PEER_ADDR" \
	"over $ESPTCP_TRANSPORT, $ESPTCP_LOCAL_TS === $ESPTCP_PEER_TS" \
	"${ESPTCP_VIP:+virtual address $ESPTCP_VIP}" 2>/dev/null || true

# only a client's DNS servers are its own to install
[ "$ESPTCP_ROLE" = initiator ] && [ -n "$ESPTCP_DNS" ] || exit 0
command -v resolvconf >/dev/null 2>&1 || exit 0

case $1 in
up)
	for s in $ESPTCP_DNS; do
		echo "nameserver $s"
	done | resolvconf -a "$iface"
	;;
down)
	resolvconf -d "$iface"
	;;
esac
exit 0
