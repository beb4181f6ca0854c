#include "cli.h"
int tp__cmd_gen(int argc, char **argv) { return 1; }
