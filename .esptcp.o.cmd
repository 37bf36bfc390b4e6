cmd_/work/main/esptcp.o := ld -m elf_x86_64 -z noexecstack --no-warn-rwx-segments   -r -o /work/main/esptcp.o @/work/main/esptcp.mod 
