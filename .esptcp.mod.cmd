cmd_/work/main/esptcp.mod := printf '%s\n'   espintcp/main.o espintcp/ulp.o | awk '!x[$$0]++ { print("/work/main/"$$0) }' > /work/main/esptcp.mod
