/work/main/espintcp/main.o
/work/main/espintcp/ulp.o
