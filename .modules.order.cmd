cmd_/work/main/modules.order := {   echo /work/main/esptcp.ko; :; } > /work/main/modules.order
