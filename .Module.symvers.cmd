cmd_/work/main/Module.symvers :=  sed 's/ko$$/o/'  /work/main/modules.order | scripts/mod/modpost -m     -W -o /work/main/Module.symvers -e -i Module.symvers -T - 
